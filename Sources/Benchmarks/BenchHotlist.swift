package import ArgumentParser
import CommandSupport
import Hotlist

/// The hotlist's size per card and per change, and its encode/decode/lookup rates next to a
/// naive format in the same run. See docs/hotlist.md.
package struct BenchHotlist: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "hotlist", abstract: "Hotlist bytes per card and per change; encode, decode and lookup rates.")

    @Option(help: "Cards on the list.")
    package var cards = 100_000

    package func run() async throws {
        guard (1000...10_000_000).contains(cards) else { throw ValidationError("--cards 1000-10000000") }
        say(HotlistBenchmark.run(cards: cards).description)
    }
}
