import NIOCore

/// Closes a connection whose first request head has not fully arrived `seconds` after the
/// connection opened (issue 21: the server's channel also takes WebSocket upgrades, and until the
/// first head is complete it has no idle timer of its own). It sits in front of the HTTP decoder,
/// passes every byte on, and watches only for the blank line that ends the first head; after that
/// the connection's idle timeout and `EdgeGuardHandler` take over.
final class FirstHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let seconds: Int64
    private var deadline: Scheduled<Void>?
    /// How much of CR LF CR LF has been seen last; 4 once the head is complete.
    private var matched = 0

    init(seconds: Int64) { self.seconds = seconds }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if deadline == nil && matched < 4 { schedule(context: context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if matched < 4 {
            let buffer = unwrapInboundIn(data)
            for byte in buffer.readableBytesView {
                matched = Self.advance(matched, byte)
                if matched == 4 { break }
            }
            if matched == 4 {
                deadline?.cancel()
                deadline = nil
            }
        }
        context.fireChannelRead(data)
    }

    /// The next state of the CR LF CR LF matcher.
    static func advance(_ state: Int, _ byte: UInt8) -> Int {
        switch (state, byte) {
        case (0, 13), (2, 13): state + 1
        case (1, 10), (3, 10): state + 1
        case (_, 13): 1
        default: 0
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

    private func schedule(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            loopBound.value.close(promise: nil)
        }
    }
}
