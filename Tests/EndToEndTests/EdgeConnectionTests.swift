import CitizenCardTesting
import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import Testing

/// The connection's limits, through the real binary and raw sockets (issue 16): a body declared
/// too large is refused before it is sent, a malformed chunk is 400 not 500, a connection that
/// never finishes its head or trickles its body is closed, and no text breaks `audit verify`.
@Suite("HTTP edge through the binary", .serialized)
struct EdgeConnectionTests {
    /// A plain TCP connection to the server's loopback port, with a read timeout.
    final class Connection {
        let socket: Int32

        init(port: Int) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { throw Server.ServerFailure(description: "cannot connect") }
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(socket) }

        /// Sends without SIGPIPE: the server may have closed the connection already (that is
        /// what some of the tests wait for), and the signal would end the whole test process.
        func send(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// Whether the server has closed the connection (a read would return end of file now).
        var isClosed: Bool {
            var byte: UInt8 = 0
            let count = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }

        /// Everything until the server closes the connection (or the read times out: nil).
        func readToClose() -> String? {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(socket, &buffer, buffer.count, 0)
                if count == 0 { return String(decoding: received, as: UTF8.self) }
                if count < 0 { return nil }
                received += buffer[0..<count]
            }
        }
    }

    static func port(_ server: Server) -> Int { Int(server.baseURL.split(separator: ":").last!)! }

    @Test("413 before the body, 400 for a broken chunk, closed after a stalled head or a trickled body")
    func connectionLimits() async throws {
        let scratch = try Scratch()
        let server = try Server(
            scratch: scratch, arguments: ["--no-demo", "--idle-timeout", "2", "--request-timeout", "3"])
        defer { server.stop() }
        let port = Self.port(server)

        let huge = try Connection(port: port)
        huge.send(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
        )
        let refused = try #require(huge.readToClose(), "the server answered and closed without the body")
        #expect(refused.hasPrefix("HTTP/1.1 413"), "\(refused.prefix(80))")
        #expect(refused.contains("body_too_large"))

        let routeLimit = try Connection(port: port)
        routeLimit.send(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
        )
        let refusedByRoute = try #require(routeLimit.readToClose(), "a route's own limit: answered, then closed")
        #expect(refusedByRoute.hasPrefix("HTTP/1.1 413"))

        let chunked = try Connection(port: port)
        chunked.send(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"
        )
        let malformed = try #require(chunked.readToClose())
        #expect(malformed.hasPrefix("HTTP/1.1 400"), "\(malformed.prefix(80))")

        let stalled = try Connection(port: port)
        let started = Date()
        stalled.send("GET /health HTTP/1.1\r\nHost: x\r\n")
        #expect(stalled.readToClose() == "", "closed without an answer")
        // Bounds with room for a loaded 2-core CI machine: the point is that it ends, not when.
        #expect(Date().timeIntervalSince(started) < 20)

        // A byte a second keeps the idle timeout away; the request's own deadline (3 s) ends it.
        // Blocking sleeps and a non-blocking look at the socket: the test's time is the server's.
        let trickle = try Connection(port: port)
        trickle.send(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        var seconds = 0
        while seconds < 20 && !trickle.isClosed {
            usleep(1_000_000)
            seconds += 1
            trickle.send(" ")
        }
        #expect(trickle.isClosed && seconds <= 14, "the trickled body was cut off after \(seconds) s")
        // A slow link that keeps sending (40 KiB/s, past the 3 s) is read to the end and answered.
        let slow = try Connection(port: port)
        let length = 200 * 1024
        slow.send(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n"
        )
        for _ in 0..<(length / 8192) {
            usleep(200_000)
            slow.send(String(repeating: " ", count: 8192))
        }
        let answered = try #require(slow.readToClose())
        #expect(answered.hasPrefix("HTTP/1.1 400"), "the whole body was read: \(answered.prefix(60))")
        #expect((try await server.send("GET", "/health")).status == 200, "the server still serves")
    }

    @Test("a NUL or a control character in any request never breaks audit verify")
    func chainSurvivesHostileText() async throws {
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "5"])
        let token = try await server.login("dh01.operator")
        let person = try await server.send(
            "POST", "/api/v1/persons/lookup", token: token, json: #"{"idNumber":"\u0000","purpose":"x"}"#)
        #expect(person.status == 422)
        for purpose in ["a%00b", "a%01b", "a%1Bb", "a%C2%85b", "%E2%80%AE"] {
            let reply = try await server.send(
                "GET", "/api/v1/persons/00000000-0000-7000-8000-00000000dead?purpose=\(purpose)", token: token)
            #expect(reply.status == 422, "\(purpose)")
        }
        let login = try await server.send(
            "POST", "/api/v1/auth/login", json: #"{"username":"dh01.operator\u0000x","password":"citizencard"}"#)
        #expect(login.status == 422)
        server.stop()
        let verify = try scratch.run(["audit", "verify", "--data", scratch.file("data").path])
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
    }

    @Test("a trusted proxy that is not an address is refused at start")
    func badTrustedProxy() throws {
        let scratch = try Scratch()
        let result = try scratch.run(
            [
                "serve", "--data", scratch.file("data").path, "--no-demo", "--port", "0", "--trusted-proxy",
                "proxy.example",
            ])
        #expect(result.status != 0)
        #expect(result.errors.contains("proxy.example"))
    }
}
