import NIOCore
import Synchronization

/// Caps open connections (HTTP and WebSocket alike): sits first in the listening channel's
/// pipeline, where each read is a newly accepted connection; one past the limit is closed at once,
/// before any byte is parsed. Counted down when a connection closes.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    let limit: Int
    let open = Atomic<Int>(0)
    let refused = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = unwrapInboundIn(data)
        if open.add(1, ordering: .relaxed).newValue > limit {
            open.subtract(1, ordering: .relaxed)
            refused.add(1, ordering: .relaxed)
            connection.close(promise: nil)
            return
        }
        connection.closeFuture.whenComplete { [self] _ in open.subtract(1, ordering: .relaxed) }
        context.fireChannelRead(data)
    }
}
