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
}
