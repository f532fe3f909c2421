import CommandSupport
import Foundation
import Hotlist

/// The hotlist benchmark of issue 5 (`citizencard bench hotlist`): sizes of the full list and of
/// deltas, and encode, decode and lookup throughput next to a naive baseline measured in the same run.
///
/// The data are generated from a fixed seed, so sizes are the same on every run and in every build
/// configuration; only the throughput figures depend on the machine and on `-c release`.
package enum HotlistBenchmark {
    /// One full-list size measurement.
    package struct SizeLine: Sendable {
        package let name: String
        package let cards: Int
        package let bytes: Int
        package var bytesPerCard: Double { Double(bytes) / Double(max(cards, 1)) }
    }

    /// One delta size measurement on the sequential list.
    package struct DeltaLine: Sendable {
        package let changes: Int
        package let bytes: Int
        /// Whether applying the decoded delta to the old list gave exactly the new one.
        package let verified: Bool
        package var bytesPerChange: Double { Double(bytes) / Double(max(changes, 1)) }
    }

    /// Operations per second, this format and the naive one.
    package struct SpeedLine: Sendable {
        package let name: String
        package let compactPerSecond: Double
        package let baselinePerSecond: Double
        package var ratio: Double { compactPerSecond / max(baselinePerSecond, .leastNonzeroMagnitude) }
    }

    package struct Report: Sendable, CustomStringConvertible {
        package let cards: Int
        package let sizes: [SizeLine]
        package let deltas: [DeltaLine]
        package let speeds: [SpeedLine]
        /// Whether every full list decoded back to the same entries.
        package let roundTripsVerified: Bool
        /// Lookup hits of the compact and the baseline lookups; equal when both agree.
        package let lookupHits: (compact: Int, baseline: Int)

        /// The goal: under 8 bytes per card for the lists of this system's own cards.
        package var meetsSizeGoal: Bool { sizes.prefix(2).allSatisfy { $0.bytesPerCard < 8 } }

        package var description: String { render() }
    }

    /// The lookups measured per run, half of them listed cards.
    static let lookupCountMax = 200_000
    /// The issued cards of the sequential case are `cards` × this; every such card is listed with
    /// probability 1 / this.
    static let issuedPerListed = 12

    package static func run(cards: Int = 100_000) -> Report {
        precondition(cards > 0 && cards <= Hotlist.entryCountMax, "cards within the hotlist's limit")
        var random = SplitMix64(seed: 0x3309_0001)
        let sequential = Data.sequential(cards: cards, random: &random)
        let lists = [
            ("(a) 1 in \(issuedPerListed) of the city's issued cards", sequential),
            ("(b) random sequence numbers, one city", Data.cityRandom(cards: cards, random: &random)),
            ("(c) random 10-byte ASNs", Data.fullyRandom(cards: cards, random: &random)),
        ]
        var sizes: [SizeLine] = []
        var roundTrips = true
        for (name, list) in lists {
            let bytes = list.encoded()
            sizes.append(SizeLine(name: name, cards: list.count, bytes: bytes.count))
            roundTrips = roundTrips && (try? Hotlist(decoding: bytes)) == list
        }
        let naive = Naive.encode(sequential)
        sizes.append(SizeLine(name: "naive: 10-byte ASN + 1 reason byte", cards: cards, bytes: naive.count))
        let deltas = [100, 1_000, 10_000].filter { $0 <= cards }.map { changes in
            measureDelta(on: sequential, changes: changes, random: &random)
        }
        let (speeds, hits) = measureSpeeds(sequential, naive: naive, random: &random)
        return Report(
            cards: cards, sizes: sizes, deltas: deltas, speeds: speeds, roundTripsVerified: roundTrips,
            lookupHits: hits)
    }

    static func measureDelta(on list: Hotlist, changes: Int, random: inout SplitMix64) -> DeltaLine {
        let new = Data.changed(list, changes: changes, random: &random)
        let delta = Hotlist.delta(from: list, to: new)
        let bytes = delta.encoded()
        let verified = (try? list.applying(HotlistDelta(decoding: bytes))) == new
        return DeltaLine(changes: delta.changeCount, bytes: bytes.count, verified: verified)
    }

    static func measureSpeeds(
        _ list: Hotlist, naive: [UInt8], random: inout SplitMix64
    )
        -> ([SpeedLine], (Int, Int))
    {
        let count = Double(list.count)
        let encoded = list.encoded()
        let encode = SpeedLine(
            name: "encode (entries/s)", compactPerSecond: count / seconds { _ = list.encoded() },
            baselinePerSecond: count / seconds { _ = Naive.encode(list) })
        let decode = SpeedLine(
            name: "decode (entries/s)", compactPerSecond: count / seconds { _ = try? Hotlist(decoding: encoded) },
            baselinePerSecond: count / seconds { _ = Naive.decode(naive) })
        let queries = Data.queries(list, count: min(lookupCountMax, 2 * list.count), random: &random)
        let queryBytes = queries.map(\.bytes)
        let set = Naive.decode(naive)
        var compactHits = 0
        var baselineHits = 0
        let compactSeconds = seconds { compactHits = queries.reduce(0) { $0 + (list.contains($1) ? 1 : 0) } }
        let baselineSeconds = seconds { baselineHits = queryBytes.reduce(0) { $0 + (set.contains($1) ? 1 : 0) } }
        let lookup = SpeedLine(
            name: "lookup (lookups/s)", compactPerSecond: Double(queries.count) / compactSeconds,
            baselinePerSecond: Double(queries.count) / baselineSeconds)
        return ([encode, decode, lookup], (compactHits, baselineHits))
    }

    /// The best of three runs, in seconds.
    static func seconds(_ work: () -> Void) -> Double {
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<3 {
            let elapsed = clock.measure(work).components
            best = min(best, Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        return max(best, 1e-9)
    }
}

extension HotlistBenchmark {
    /// The naive format the compact one is compared with: 10 bytes of ASN and 1 attribute byte per
    /// card, decoded into a `Set<[UInt8]>`.
    enum Naive {
        static func encode(_ list: Hotlist) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(list.count * 11)
            for entry in list.entries {
                bytes.append(contentsOf: entry.asn.bytes)
                bytes.append(entry.attribute)
            }
            return bytes
        }

        static func decode(_ bytes: [UInt8]) -> Set<[UInt8]> {
            var set = Set<[UInt8]>(minimumCapacity: bytes.count / 11)
            for start in stride(from: 0, to: bytes.count - 10, by: 11) {
                set.insert(Array(bytes[start..<start + 10]))
            }
            return set
        }
    }
}
