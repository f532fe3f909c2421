import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The connection's own limits, below the router (issue 16): a request whose declared
/// `Content-Length` is over `bodyMax` is answered 413 at once, before a byte of its body is read,
/// and the connection closed; a request whose body has not fully arrived `requestSeconds` after
/// its head is cut off (a client trickling a body a byte at a time holds nothing for long); an
/// answer that says `Connection: close` closes the connection once written, so a route that
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
    private var deadline: Scheduled<Void>?
    /// After an early refusal: the rest of that request is dropped, then the connection closes.
    private var refusing = false
    private var closeAfterResponse = false

    init(bodyMax: Int, requestSeconds: Int64) {
        self.bodyMax = bodyMax
        self.requestSeconds = requestSeconds
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
            scheduleDeadline(context: context)
        case .body:
            break
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

    private func scheduleDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .seconds(requestSeconds)) {
            loopBound.value.close(promise: nil)
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
