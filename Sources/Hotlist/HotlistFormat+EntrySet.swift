/// The entry set of docs/hotlist.md, shared by full lists, a delta's changes and a delta's removals:
/// an entry count, an optional palette of attribute bytes, then groups of ASNs that share their
/// first two bytes, each ASN stored as the gap from the previous one.
extension ByteWriter {
    /// `asns` sorted and unique; `attributes` one per ASN, or nil for a set without them (removals).
    mutating func appendEntrySet(_ asns: [CardASN], attributes: [UInt8]?) {
        precondition(attributes == nil || attributes?.count == asns.count, "one attribute per ASN")
        appendVarint(UInt128(asns.count))
        var bits = 0
        var indices: [UInt8] = []
        if let attributes {
            let palette = Set(attributes).sorted()
            append(UInt8(palette.count))
            append(contentsOf: palette)
            bits = HotlistFormat.paletteBits(palette.count)
            var indexOf = [UInt8](repeating: 0, count: 256)
            for (index, attribute) in palette.enumerated() { indexOf[Int(attribute)] = UInt8(index) }
            indices = attributes.map { indexOf[Int($0)] }
        }
        var start = 0
        var previousPrefix: UInt16?
        while start < asns.count {
            let prefix = asns[start].prefix
            var end = start + 1
            while end < asns.count, asns[end].prefix == prefix { end += 1 }
            appendVarint(previousPrefix.map { UInt128(prefix - $0 - 1) } ?? UInt128(prefix))
            appendGroup(asns[start..<end], indices: indices.isEmpty ? nil : indices[start..<end], bits: bits)
            previousPrefix = prefix
            start = end
        }
    }

    /// The group header, then one varint per ASN: the gap in the low-order bits' place shifted left
    /// by `bits`, the palette index in the low `bits` bits.
    private mutating func appendGroup(_ group: ArraySlice<CardASN>, indices: ArraySlice<UInt8>?, bits: Int) {
        let decimals = group.compactMap(\.decimalTail)
        let isDecimal = decimals.count == group.count
        let values = isDecimal ? decimals : group.map(\.tail)
        appendVarint(UInt128(group.count - 1) << 1 | (isDecimal ? HotlistFormat.decimalMode : 0))
        var previous: UInt64?
        for (position, value) in values.enumerated() {
            let gap = previous.map { value - $0 - 1 } ?? value
            let index = indices.map { $0[$0.startIndex + position] } ?? 0
            appendVarint(UInt128(gap) << UInt128(bits) | UInt128(index))
            previous = value
        }
    }
}

extension ByteReader {
    /// Reads what `appendEntrySet` writes, refusing anything it would not write. `attributes` is
    /// empty when `withPalette` is false.
    mutating func entrySet(withPalette: Bool) throws(HotlistDecodingError) -> (asns: [CardASN], attributes: [UInt8]) {
        let count = try count()
        let paletteOffset = offset
        let palette = withPalette ? try self.palette() : []
        var set = GroupState(bits: HotlistFormat.paletteBits(palette.count), palette: palette, withPalette: withPalette)
        set.asns.reserveCapacity(count)
        var previousPrefix: UInt16?
        while set.asns.count < count {
            let prefixOffset = offset
            let gap = try varint()
            let prefix = previousPrefix.map { UInt128($0) + 1 + gap } ?? gap
            guard prefix <= UInt128(UInt16.max) else { throw .valueOutOfRange(offset: prefixOffset) }
            try group(prefix: UInt16(prefix), entriesLeft: count - set.asns.count, into: &set)
            previousPrefix = UInt16(prefix)
        }
        // Every palette attribute must be used, or the same list would have several encodings.
        guard set.used == (1 << palette.count) - 1 else { throw .nonCanonical(offset: paletteOffset) }
        return (set.asns, set.attributes)
    }

    struct GroupState {
        let bits: Int
        let palette: [UInt8]
        let withPalette: Bool
        var asns: [CardASN] = []
        var attributes: [UInt8] = []
        /// Bit i set when palette entry i was used.
        var used: UInt32 = 0
    }

    /// Palette size, then strictly increasing attribute bytes.
    private mutating func palette() throws(HotlistDecodingError) -> [UInt8] {
        let size = try byte()
        var palette: [UInt8] = []
        for _ in 0..<size {
            let attributeOffset = offset
            let attribute = try byte()
            guard HotlistEntry.isValidAttribute(attribute) else { throw .invalidAttribute(offset: attributeOffset) }
            if let last = palette.last, attribute <= last { throw .nonCanonical(offset: attributeOffset) }
            palette.append(attribute)
        }
        return palette
    }

    private mutating func group(
        prefix: UInt16, entriesLeft: Int, into set: inout GroupState
    )
        throws(HotlistDecodingError)
    {
        let headerOffset = offset
        let header = try varint()
        let size = (header >> 1) + 1
        guard size <= UInt128(entriesLeft) else { throw .valueOutOfRange(offset: headerOffset) }
        let isDecimal = header & HotlistFormat.decimalMode != 0
        let valueMax = isDecimal ? UInt128(CardASN.decimalTailMax) : UInt128(UInt64.max)
        let indexMask = (UInt128(1) << UInt128(set.bits)) - 1
        var previous: UInt128?
        var allBCD = true
        for _ in 0..<Int(size) {
            let itemOffset = offset
            let item = try varint()
            let index = Int(item & indexMask)
            guard !set.withPalette || index < set.palette.count else { throw .valueOutOfRange(offset: itemOffset) }
            let value = previous.map { $0 + 1 + (item >> UInt128(set.bits)) } ?? item >> UInt128(set.bits)
            guard value <= valueMax else { throw .valueOutOfRange(offset: itemOffset) }
            let asn = CardASN(
                prefix: prefix, tail: isDecimal ? CardASN.bcdTail(decimal: UInt64(value)) : UInt64(value))
            if !isDecimal, allBCD, asn.decimalTail == nil { allBCD = false }
            set.asns.append(asn)
            if set.withPalette {
                set.attributes.append(set.palette[index])
                set.used |= 1 << UInt32(index)
            }
            previous = value
        }
        // The encoder stores a group of BCD tails in decimal mode, never in binary mode.
        if !isDecimal, allBCD { throw .nonCanonical(offset: headerOffset) }
    }
}

extension HotlistEntry {
    static func isValidAttribute(_ attribute: UInt8) -> Bool {
        HotlistReason(rawValue: attribute & ~blockFlag) != nil
    }
}

extension Hotlist {
    /// The full-list file: `CCHL`, format version, list version, the entry set, CRC-32.
    public func encoded() -> [UInt8] {
        var writer = HotlistFormat.writer(magic: HotlistFormat.fullMagic)
        writer.appendBigEndian(version)
        writer.appendEntrySet(entries.map(\.asn), attributes: entries.map(\.attribute))
        return writer.finish()
    }

    /// Decodes a full-list file. Never traps, whatever the bytes; `encoded()` of the result gives
    /// back exactly `bytes`.
    ///
    /// - Throws: the first problem found, in the order of `HotlistDecodingError`'s cases.
    public init(decoding bytes: [UInt8]) throws(HotlistDecodingError) {
        var reader = try HotlistFormat.open(bytes, magic: HotlistFormat.fullMagic)
        let version = try reader.bigEndianUInt64()
        let set = try reader.entrySet(withPalette: true)
        try reader.expectEnd()
        self.init(version: version, sortedUniqueEntries: try Self.entries(set.asns, set.attributes))
    }

    static func entries(_ asns: [CardASN], _ attributes: [UInt8]) throws(HotlistDecodingError) -> [HotlistEntry] {
        var entries: [HotlistEntry] = []
        entries.reserveCapacity(asns.count)
        for (asn, attribute) in zip(asns, attributes) {
            // Checked when the palette was read; kept as a check rather than a force unwrap.
            guard let entry = HotlistEntry(asn: asn, attribute: attribute) else { throw .invalidAttribute(offset: 0) }
            entries.append(entry)
        }
        return entries
    }
}

extension HotlistDelta {
    /// The delta file: `CCHD`, format version, from and to versions, the changed entries as an entry
    /// set, the removed ASNs as an entry set without palette, CRC-32.
    public func encoded() -> [UInt8] {
        var writer = HotlistFormat.writer(magic: HotlistFormat.deltaMagic)
        writer.appendBigEndian(fromVersion)
        writer.appendBigEndian(toVersion)
        writer.appendEntrySet(changed.map(\.asn), attributes: changed.map(\.attribute))
        writer.appendEntrySet(removed, attributes: nil)
        return writer.finish()
    }

    /// Decodes a delta file. Never traps, whatever the bytes; `encoded()` of the result gives back
    /// exactly `bytes`.
    ///
    /// - Throws: the first problem found, in the order of `HotlistDecodingError`'s cases.
    public init(decoding bytes: [UInt8]) throws(HotlistDecodingError) {
        var reader = try HotlistFormat.open(bytes, magic: HotlistFormat.deltaMagic)
        let fromVersion = try reader.bigEndianUInt64()
        let toVersion = try reader.bigEndianUInt64()
        guard fromVersion < toVersion else { throw .versionsNotIncreasing }
        let changedSet = try reader.entrySet(withPalette: true)
        let removed = try reader.entrySet(withPalette: false).asns
        try reader.expectEnd()
        let changed = try Hotlist.entries(changedSet.asns, changedSet.attributes)
        guard Self.firstCommonASN(changed, removed) == nil else { throw .changedAndRemoved }
        self.init(fromVersion: fromVersion, toVersion: toVersion, sortedChanged: changed, sortedRemoved: removed)
    }
}
