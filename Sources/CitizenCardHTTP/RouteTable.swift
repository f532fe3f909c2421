@_spi(Internal) import Hummingbird
public import HTTPTypes
import Synchronization

/// Every route's path pattern and methods, as registered (the API and the pages), so that a
/// request for a path that exists with another method is answered 405 with `Allow` rather than
/// 404. Filled while the router is built; the first lookup builds a trie with Hummingbird's own
/// path matcher, so that a path resolves here exactly as the router resolves it
/// (`/persons/lookup` is the constant route, not `/persons/{personId}`).
public final class RouteTable: Sendable {
    private struct State {
        var methodsByPath: [String: [HTTPRequest.Method]] = [:]
        var order: [String] = []
        var trie: RouterTrie<[HTTPRequest.Method]>?
    }

    private let state = Mutex(State())

    public init() {}

    func add(_ method: HTTPRequest.Method, _ path: String) {
        state.withLock { state in
            precondition(state.trie == nil, "routes are added before the first request")
            if state.methodsByPath[path] == nil { state.order.append(path) }
            state.methodsByPath[path, default: []].append(method)
        }
    }

    /// The methods of the route that `path` resolves to, in registration order, with `HEAD`
    /// wherever there is `GET` (Hummingbird answers it); empty when no route has the path.
    public func methods(matching path: String) -> [HTTPRequest.Method] {
        let trie = state.withLock { state in
            if let trie = state.trie { return trie }
            let builder = RouterPathTrieBuilder<[HTTPRequest.Method]>()
            for path in state.order { builder.addEntry(RouterPath(path), value: state.methodsByPath[path]!) }
            let trie = builder.build()
            state.trie = trie
            return trie
        }
        guard var methods = trie.resolve(path)?.value else { return [] }
        if methods.contains(.get) && !methods.contains(.head) { methods.append(.head) }
        return methods
    }
}
