import CommandSupport
import Foundation
import Hotlist

extension HotlistBenchmark {
    /// The benchmark's lists, all for city prefix 3309 and application type 0001 except the fully
    /// random one.
    enum Data {
        static let cityPrefix: UInt16 = 0x3309
        /// `0001` followed by 12 sequence digits, as a decimal number.
        static let applicationBase: UInt64 = 1_000_000_000_000
        static let sequenceCount: UInt64 = 1_000_000_000_000

        static func cityASN(sequence: UInt64) -> CardASN {
            CardASN(prefix: cityPrefix, tail: CardASN.bcdTail(decimal: applicationBase + sequence))
        }

        /// A plausible mix: most cards lost (and locked), then cancelled, expired, pre-lost, blocked.
        static func entry(_ asn: CardASN, random: inout SplitMix64) -> HotlistEntry {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<50: HotlistEntry(asn: asn, reason: .lost, blocksApplication: true)
            case 50..<75: HotlistEntry(asn: asn, reason: .cancelled)
            case 75..<87: HotlistEntry(asn: asn, reason: .expired)
            case 87..<95: HotlistEntry(asn: asn, reason: .preLost)
            default: HotlistEntry(asn: asn, reason: .blocked, blocksApplication: true)
            }
        }

        /// `cards` of the first `cards × issuedPerListed` sequence numbers, each equally likely
        /// (selection sampling, Knuth's algorithm S).
        static func sequential(cards: Int, random: inout SplitMix64) -> Hotlist {
            let issued = cards * issuedPerListed
            var entries: [HotlistEntry] = []
            entries.reserveCapacity(cards)
            for sequence in 0..<issued where entries.count < cards {
                let needed = cards - entries.count
                if Int.random(in: 0..<(issued - sequence), using: &random) < needed {
                    entries.append(entry(cityASN(sequence: UInt64(sequence + 1)), random: &random))
                }
            }
            return Hotlist(version: 1, sortedUniqueEntries: entries)
        }

        static func cityRandom(cards: Int, random: inout SplitMix64) -> Hotlist {
            var asns = Set<CardASN>()
            while asns.count < cards {
                asns.insert(cityASN(sequence: UInt64.random(in: 0..<sequenceCount, using: &random)))
            }
            return Hotlist(version: 1, sortedUniqueEntries: asns.sorted().map { entry($0, random: &random) })
        }

        static func fullyRandom(cards: Int, random: inout SplitMix64) -> Hotlist {
            var asns = Set<CardASN>()
            while asns.count < cards {
                asns.insert(CardASN(prefix: UInt16.random(in: 0...UInt16.max, using: &random), tail: random.next()))
            }
            return Hotlist(version: 1, sortedUniqueEntries: asns.sorted().map { entry($0, random: &random) })
        }

        /// `list` at the next version after `changes` changes: a third removals, a third new reasons,
        /// the rest newly listed cards among the issued ones.
        static func changed(_ list: Hotlist, changes: Int, random: inout SplitMix64) -> Hotlist {
            var entries = Dictionary(uniqueKeysWithValues: list.entries.map { ($0.asn, $0) })
            let listed = list.entries.map(\.asn)
            var touched = Set<CardASN>()
            while touched.count < changes / 3 {
                guard let asn = listed.randomElement(using: &random), touched.insert(asn).inserted else { continue }
                entries[asn] = nil
            }
            while touched.count < 2 * changes / 3 {
                guard let asn = listed.randomElement(using: &random), touched.insert(asn).inserted,
                    let old = entries[asn]
                else { continue }
                let reason = HotlistReason.allCases.filter { $0 != old.reason }.randomElement(using: &random)
                entries[asn] = HotlistEntry(asn: asn, reason: reason ?? .blocked, blocksApplication: reason == .blocked)
            }
            let issued = UInt64(list.count * issuedPerListed)
            while touched.count < changes {
                let asn = cityASN(sequence: UInt64.random(in: 1...issued, using: &random))
                guard entries[asn] == nil, touched.insert(asn).inserted else { continue }
                entries[asn] = entry(asn, random: &random)
            }
            let sorted = entries.values.sorted { $0.asn < $1.asn }
            return Hotlist(version: list.version + 1, sortedUniqueEntries: sorted)
        }

        /// Half listed cards, half cards of the same city that are not listed.
        static func queries(_ list: Hotlist, count: Int, random: inout SplitMix64) -> [CardASN] {
            (0..<count).map { index in
                if index.isMultiple(of: 2), let entry = list.entries.randomElement(using: &random) {
                    return entry.asn
                }
                return cityASN(sequence: UInt64.random(in: 0..<sequenceCount, using: &random))
            }
        }
    }
}

extension HotlistBenchmark.Report {
    func render() -> String {
        var lines = ["Hotlist benchmark, \(cards) cards (sizes do not depend on the build configuration)"]
        lines.append(row("Full list", "bytes", "bytes/card"))
        for size in sizes {
            lines.append(row("  " + size.name, String(size.bytes), fixed(size.bytesPerCard, 2)))
        }
        lines.append(row("Delta on list (a)", "bytes", "bytes/change"))
        for delta in deltas {
            lines.append(row("  \(delta.changes) changes", String(delta.bytes), fixed(delta.bytesPerChange, 2)))
        }
        lines.append(row("Throughput, list (a)", "this format", "naive", "ratio"))
        for speed in speeds {
            lines.append(
                row(
                    "  " + speed.name, fixed(speed.compactPerSecond, 0), fixed(speed.baselinePerSecond, 0),
                    fixed(speed.ratio, 2)))
        }
        let deltasOK = deltas.allSatisfy(\.verified)
        lines.append(
            "round trips \(roundTripsVerified ? "ok" : "FAILED"), deltas \(deltasOK ? "ok" : "FAILED"), "
                + "lookups \(lookupHits.compact == lookupHits.baseline ? "agree" : "DISAGREE"); "
                + "goal under 8 bytes/card: \(meetsSizeGoal ? "met" : "NOT MET")")
        return lines.joined(separator: "\n")
    }

    private func row(_ label: String, _ columns: String...) -> String {
        let padded = label.count < 48 ? label + String(repeating: " ", count: 48 - label.count) : label
        return padded + columns.map { String(repeating: " ", count: max(0, 14 - $0.count)) + $0 }.joined()
    }

    /// `value` with `digits` decimals, without Foundation.
    private func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((value * scale).rounded())
        let whole = String(scaled / Int64(scale))
        guard digits > 0 else { return whole }
        let fraction = String(scaled % Int64(scale))
        return whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
