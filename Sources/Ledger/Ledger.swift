/// Double-entry ledger (issue 5). See docs/ledger.md.
enum LedgerModule {}
