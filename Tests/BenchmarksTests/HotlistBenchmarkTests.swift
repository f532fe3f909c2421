import Testing

import Benchmarks
import Foundation

@Suite("Hotlist benchmark")
struct HotlistBenchmarkTests {
    @Test func smallRunVerifiesItselfAndMeetsTheGoal() {
        let report = HotlistBenchmark.run(cards: 2_000)
        #expect(report.roundTripsVerified)
        #expect(report.deltas.map(\.changes) == [100, 1_000])
        #expect(report.deltas.allSatisfy { $0.verified })
        #expect(report.lookupHits.compact == report.lookupHits.baseline)
        #expect(report.lookupHits.compact >= 2_000)
        #expect(report.meetsSizeGoal)
        #expect(report.sizes[0].bytesPerCard < 2)
        #expect(report.sizes[3].bytesPerCard == 11)
        #expect(report.speeds.count == 3)
        #expect(report.description.contains("bytes/card"))
    }

    /// The full benchmark, for the figures in docs/hotlist.md: `HOTLIST_BENCH=1 swift test --filter fullRun`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HOTLIST_BENCH"] == "1")) func fullRun() {
        let report = HotlistBenchmark.run()
        print(report)
        #expect(report.meetsSizeGoal)
    }
}
