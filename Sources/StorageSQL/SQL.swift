public import Storage
public import Foundation

/// The two SQL dialects of the backends.
public enum SQLDialect: Sendable, Hashable {
    case sqlite
    case postgres
}

/// The type of a parameter, for a NULL that PostgreSQL must still type (`$2 IS NULL`).
public enum SQLType: Sendable, Hashable {
    case integer, text, blob, boolean, real
}

/// A parameter's value as both drivers take it. Booleans are `boolean` on PostgreSQL and `0`/`1`
/// on SQLite; times are Int64 seconds on both; blobs are `bytea` and `BLOB`.
public enum SQLValue: Sendable, Hashable {
    case null(SQLType)
    case integer(Int64)
    case text(String)
    case blob(Data)
    case boolean(Bool)
    case real(Double)
}

/// What can be a parameter of a statement.
public protocol SQLValueConvertible: Sendable {
    static var sqlType: SQLType { get }
    var sqlValue: SQLValue { get }
}

extension Int64: SQLValueConvertible {
    public static var sqlType: SQLType { .integer }
    public var sqlValue: SQLValue { .integer(self) }
}

extension Int: SQLValueConvertible {
    public static var sqlType: SQLType { .integer }
    public var sqlValue: SQLValue { .integer(Int64(self)) }
}

extension String: SQLValueConvertible {
    public static var sqlType: SQLType { .text }
    public var sqlValue: SQLValue { .text(self) }
}

extension Data: SQLValueConvertible {
    public static var sqlType: SQLType { .blob }
    public var sqlValue: SQLValue { .blob(self) }
}

extension Bool: SQLValueConvertible {
    public static var sqlType: SQLType { .boolean }
    public var sqlValue: SQLValue { .boolean(self) }
}

extension Double: SQLValueConvertible {
    public static var sqlType: SQLType { .real }
    public var sqlValue: SQLValue { .real(self) }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public static var sqlType: SQLType { Wrapped.sqlType }
    public var sqlValue: SQLValue { self?.sqlValue ?? .null(Wrapped.sqlType) }
}

/// One SQL statement written once for both backends (issue 17): text with its parameters
/// interpolated as values, rendered with `?` for SQLite or `$1 …` for PostgreSQL. Where the
/// dialects truly differ, `\(sqlite: "…", postgres: "…")` names both at that place.
///
/// ```swift
/// let statement: SQL = "UPDATE cards SET state = \(card.state.rawValue) WHERE id = \(card.id.rawValue)"
/// ```
public struct SQL: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    package enum Fragment: Sendable, Hashable {
        case text(String)
        case value(SQLValue)
        case choice(sqlite: String, postgres: String)
    }

    private(set) var fragments: [Fragment]

    public init(stringLiteral value: String) { fragments = [.text(value)] }

    public init(stringInterpolation: StringInterpolation) { fragments = stringInterpolation.fragments }

    public struct StringInterpolation: StringInterpolationProtocol {
        var fragments: [Fragment] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            fragments.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { fragments.append(.text(literal)) }
        }

        /// A parameter.
        public mutating func appendInterpolation(_ value: some SQLValueConvertible) {
            fragments.append(.value(value.sqlValue))
        }

        /// A parameter that may be NULL (typed, for PostgreSQL). Spelled out so that an optional
        /// is taken as a value, not described.
        public mutating func appendInterpolation<Wrapped: SQLValueConvertible>(_ value: Wrapped?) {
            fragments.append(.value(value.sqlValue))
        }

        /// A parameter already converted.
        public mutating func appendInterpolation(_ value: SQLValue) { fragments.append(.value(value)) }

        /// Text that is SQL, not a value: a column list, a table name made by the code.
        public mutating func appendInterpolation(raw text: String) { fragments.append(.text(text)) }

        /// Where the dialects differ.
        public mutating func appendInterpolation(sqlite: String, postgres: String) {
            fragments.append(.choice(sqlite: sqlite, postgres: postgres))
        }

        /// Another statement's text and parameters, in place.
        public mutating func appendInterpolation(_ sql: SQL) { fragments += sql.fragments }
    }

    /// The text for `dialect`, and the parameters in order.
    public func rendered(_ dialect: SQLDialect) -> (text: String, values: [SQLValue]) {
        var text = ""
        var values: [SQLValue] = []
        for fragment in fragments {
            switch fragment {
            case .text(let part): text += part
            case .choice(let sqlite, let postgres): text += dialect == .sqlite ? sqlite : postgres
            case .value(let value):
                values.append(value)
                text += dialect == .sqlite ? "?" : "$\(values.count)"
            }
        }
        return (text, values)
    }

    public static func + (lhs: SQL, rhs: SQL) -> SQL {
        var sum = lhs
        sum.fragments += rhs.fragments
        return sum
    }

    /// `(?, ?, ?)`-style lists are written with `joined`: the statements joined by `separator`.
    public static func joined(_ parts: [SQL], separator: String) -> SQL {
        var result = SQL(stringLiteral: "")
        for (index, part) in parts.enumerated() {
            if index > 0 { result.fragments.append(.text(separator)) }
            result.fragments += part.fragments
        }
        return result
    }

    /// The SQLite rendering, parameters left out (for logs and tests; never with values).
    public var description: String { rendered(.sqlite).text }
}

/// A write of a commit and what it must do for the commit to stand.
public struct WriteStep: Sendable, Hashable {
    public enum Rows: Sendable, Hashable {
        /// Any number of rows, none included.
        case any
        /// Exactly one row, else `conflict(entity:)` and the commit is undone (a version guard).
        case one(conflict: String)
        /// Exactly one row, else `duplicate(rule)` (a claim another row holds).
        case oneOrDuplicate(StorageError.UniqueRule)
    }

    public var sql: SQL
    public var rows: Rows

    public init(_ sql: SQL, rows: Rows = .any) {
        self.sql = sql
        self.rows = rows
    }

    /// The error when `count` rows were touched, nil when that is what the step needs.
    public func failure(touched count: Int) -> StorageError? {
        switch rows {
        case .any: nil
        case .one(let entity): count == 1 ? nil : .conflict(entity: entity)
        case .oneOrDuplicate(let rule): count == 1 ? nil : .duplicate(rule)
        }
    }
}
