import Benchmarks
import CommandSupport
import Foundation
import Testing

/// The benchmarks' own arithmetic and data, checked without running a benchmark.
@Suite("Benchmark support")
struct BenchmarksTests {
    @Test("the seeded generator repeats itself for a seed and differs between seeds")
    func seeded() {
        var a = SplitMix64(seed: 16), b = SplitMix64(seed: 16), c = SplitMix64(seed: 17)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
        // The reference value of SplitMix64 for seed 0 (Vigna's splitmix64.c).
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }

    @Test("percentiles of timings")
    func percentiles() {
        let values = (1...100).map(Double.init)
        #expect(BenchData.percentile(values.reversed(), 0.5) == "51.000")
        #expect(BenchData.percentile(values, 0.99) == "100.000")
        #expect(BenchData.percentile(values, 1.0) == "100.000")
        #expect(BenchData.percentile([], 0.5) == "-")
    }

    @Test("the JSON benchmark's batch body is a valid upload of the records asked for")
    func batchBody() throws {
        let body = try BenchJSON.batchBody(records: 25)
        try BenchJSON.decode(body)
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        #expect((object?["records"] as? [Any])?.count == 25)
    }

    @Test("the benchmark runs and reports both algorithms")
    func benchmark() throws {
        let report = try CardCryptoBenchmark.run(iterations: 200)
        #expect(report.lines.map(\.algorithm) == ["3DES", "SM4 (provisional)"])
        #expect(report.lines[0].blocks.map(\.perVerification) == [2, 3])
        #expect(report.lines[1].blocks.map(\.perVerification) == [3])
        #expect(report.lines.allSatisfy { $0.seconds > 0 && $0.rawSeconds > 0 })
        #expect(report.description.contains("ratio"))
    }
}
