import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The connection's own limits, below the router (issue 16): a request whose declared
/// `Content-Length` is over `bodyMax` is answered 413 at once, before a byte of its body is read,
/// and the connection closed; a request whose body has not fully arrived `requestSeconds` after
/// its head must go on arriving at `minimumBytesPerSecond` at least (counted from then), or it is
/// cut off: a client trickling a body a byte at a time holds nothing for long, while a terminal on
/// a slow mobile link still gets its 4 MiB batch through (the rule of Kestrel's minimum data rate);
/// an answer that says `Connection: close` closes the connection once written, so a route that
/// refuses a body early does not go on reading it.
///
/// A connection that never finishes its head is closed by the server's idle timeout
/// (`CitizenCardApp.idleTimeoutSeconds`): the decoder passes nothing up until a head is
/// complete, so trickled header bytes do not count as activity.
final class EdgeGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let bodyMax: Int
    let requestSeconds: Int64
    let minimumBytesPerSecond: Int
    private var deadline: Scheduled<Void>?
    /// When the request's head arrived, and the body bytes since.
    private var headAt = NIODeadline.now()
    private var received = 0
    /// After an early refusal: the rest of that request is dropped, then the connection closes.
    private var refusing = false
    private var closeAfterResponse = false

    static let checkSeconds: Int64 = 2

    init(bodyMax: Int, requestSeconds: Int64, minimumBytesPerSecond: Int = 16 * 1024) {
        self.bodyMax = bodyMax
        self.requestSeconds = requestSeconds
        self.minimumBytesPerSecond = minimumBytesPerSecond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if refusing { return }
        switch part {
        case .head(let head):
            if let declared = head.headerFields[.contentLength].flatMap({ Int($0) }), declared > bodyMax {
                refuse(context: context, head: head)
                return
            }
            headAt = .now()
            received = 0
            scheduleCheck(context: context, in: requestSeconds)
        case .body(let buffer):
            received += buffer.readableBytes
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        switch part {
        case .head(let response):
            if response.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterResponse else {
                context.write(data, promise: promise)
                return
            }
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(data).whenComplete { result in
                promise?.completeWith(result)
                loopBound.value.close(promise: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func scheduleCheck(context: ChannelHandlerContext, in seconds: Int64) {
        deadline?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            let (handler, context) = loopBound.value
            handler.check(context: context)
        }
    }

    /// The body is late: keep it while it has arrived at the minimum rate since `requestSeconds`
    /// after the head, else close.
    private func check(context: ChannelHandlerContext) {
        let elapsedSeconds = (NIODeadline.now() - headAt).nanoseconds / 1_000_000_000
        let owed = max(0, elapsedSeconds - requestSeconds) * Int64(minimumBytesPerSecond)
        if Int64(received) >= owed {
            scheduleCheck(context: context, in: Self.checkSeconds)
        } else {
            deadline = nil
            context.close(promise: nil)
        }
    }

    /// 413 `body_too_large` as a problem document, then close.
    private func refuse(context: ChannelHandlerContext, head: HTTPRequest) {
        refusing = true
        let chinese = head.headerFields[.acceptLanguage].map { !$0.lowercased().hasPrefix("en") } ?? true
        let problem = Problem(
            CitizenCardError(.bodyTooLarge, "at most \(bodyMax) bytes"),
            instance: head.path.map { String($0.prefix { $0 != "?" }) }, chinese: chinese)
        let body = (try? APIJSON.encoder.encode(problem)) ?? Data()
        let fields: HTTPFields = [
            .contentType: "application/problem+json; charset=utf-8", .contentLength: "\(body.count)",
            .connection: "close", .cacheControl: "no-store", .xContentTypeOptions: "nosniff",
        ]
        context.write(
            wrapOutboundOut(.head(HTTPResponse(status: .contentTooLarge, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
