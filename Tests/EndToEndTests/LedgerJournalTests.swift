import Foundation
import Testing

/// The journal's rules held by the database itself, against SQL from outside the server.
@Suite("Ledger journal in the database", .serialized)
struct LedgerJournalTests {
    @Test("transfers and postings cannot be changed or deleted; a posting needs its transfer")
    func appendOnly() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        // Any command opens (and so migrates) the database.
        let run = try scratch.run(["clearing", "run", "--date", "2026-01-05", "--data", data])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        try scratch.execute(
            """
            INSERT INTO ledger_transfers (id, sequence, kind, at, memo) VALUES ('t:journal', 900001, 'correction', 0, '');
            INSERT INTO ledger_postings (transfer_id, account_id, sequence, amount_fen, balance_after_fen)
            VALUES ('t:journal', 'bank:settlement', 900001, 5, 5), ('t:journal', 'income:fees', 900001, -5, -5)
            """)
        let orphan = """
            INSERT INTO ledger_postings (transfer_id, account_id, sequence, amount_fen, balance_after_fen)
            VALUES ('t:journal', 'risk:operator', 900001, 1, 1), ('t:nowhere', 'bank:settlement', 900002, 5, 10)
            """
        let refused = #expect(throws: (any Error).self) { try scratch.execute(orphan) }
        let orphanMessage = refused.map { "\($0)" } ?? ""
        #expect(
            orphanMessage.contains("names a transfer that is not there")
                || orphanMessage.contains("FOREIGN KEY constraint failed"), "\(orphanMessage)")
        for change in [
            "UPDATE ledger_postings SET amount_fen = 6 WHERE transfer_id = 't:journal' AND account_id = 'bank:settlement'",
            "DELETE FROM ledger_postings WHERE transfer_id = 't:journal'",
            "UPDATE ledger_transfers SET memo = 'edited' WHERE id = 't:journal'",
            "DELETE FROM ledger_transfers WHERE id = 't:journal'",
        ] {
            let error = #expect(throws: (any Error).self, "\(change)") { try scratch.execute(change) }
            #expect(error.map { "\($0)" }?.contains("the ledger journal is append-only") == true, "\(change)")
        }
        #expect(try scratch.query("SELECT count(*) FROM ledger_postings WHERE transfer_id = 't:journal'") == "2")
        #expect(try scratch.query("SELECT sum(amount_fen) FROM ledger_postings WHERE transfer_id = 't:journal'") == "0")
        #expect(try scratch.query("SELECT memo FROM ledger_transfers WHERE id = 't:journal'") == "")
        #expect(try scratch.query("SELECT count(*) FROM ledger_postings WHERE transfer_id = 't:nowhere'") == "0")
    }

    @Test("an exception's closure cannot be changed or deleted; it needs its record")
    func closuresFinal() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let run = try scratch.run(["clearing", "run", "--date", "2026-01-05", "--data", data])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        try scratch.execute(
            """
            INSERT INTO offline_purchases (id, batch_id, terminal_id, merchant_id, card_id, asn, card_counter,
                psam_serial, terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type,
                tapped_at, key_version, algorithm_id, tac, mac2, record_status, outcome, reason, posted_at, posted_on,
                received_at)
            VALUES ('p:closed', 'b', 't', 'm', NULL, '00000000000000000001', 1, '0000000000000001', 1, 100, 200, 100,
                6, 0, 1, 0, '00000000', '00000000', 'complete', 'parked', 'bad_tac', NULL, NULL, 0);
            INSERT INTO purchase_exception_closures (purchase_id, note, closed_by, closed_at)
            VALUES ('p:closed', 'forged', 'admin', 0)
            """)
        for change in [
            "UPDATE purchase_exception_closures SET note = 'edited' WHERE purchase_id = 'p:closed'",
            "DELETE FROM purchase_exception_closures WHERE purchase_id = 'p:closed'",
        ] {
            let error = #expect(throws: (any Error).self, "\(change)") { try scratch.execute(change) }
            #expect(error.map { "\($0)" }?.contains("an exception closure is final") == true, "\(change)")
        }
        #expect(
            try scratch.query("SELECT note FROM purchase_exception_closures WHERE purchase_id = 'p:closed'") == "forged"
        )
        // A closure of no record (GRDB, like the server, has SQLite check foreign keys).
        let orphan = #expect(throws: (any Error).self) {
            try scratch.execute(
                "INSERT INTO purchase_exception_closures (purchase_id, note, closed_by, closed_at) VALUES ('p:nowhere', 'x', 'admin', 0)"
            )
        }
        #expect(orphan.map { "\($0)" }?.lowercased().contains("foreign key") == true)
    }
}
