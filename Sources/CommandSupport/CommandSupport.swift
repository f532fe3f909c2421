import Foundation

// What every command of the binary shares, in one place each: how a command fails, how it
// writes a line, the seeded generator of benchmark and simulation data, elapsed seconds.

/// Prints a `CitizenCardError` as `code: detail` and exits non-zero.
package struct CommandFailure: Error, CustomStringConvertible {
    package var description: String

    package init(description: String) { self.description = description }
}

/// Writes to standard output at once (no buffering), so that a supervisor reading a pipe sees
/// each line when it happens.
package func say(_ text: String, newline: Bool = true) {
    FileHandle.standardOutput.write(Data((newline ? text + "\n" : text).utf8))
}

/// A fast deterministic generator (SplitMix64) for benchmark and simulation data: the same seed
/// gives the same choices. Not for anything secret.
package struct SplitMix64: RandomNumberGenerator {
    package var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seconds since `start`, for the benchmarks' timings.
package func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
