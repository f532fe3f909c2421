import CitizenCardDomain
import Ledger
import PropertyBased
import Testing

/// `Transfer.merging` against a plain model: a dictionary of sums in the order given.
@Suite("Transfers: merging postings to one account")
struct TransferMergingTests {
    static let accounts: [AccountID] =
        Fixture.cards.map(AccountID.purse) + [.bankSettlement, .feeIncome, .operatorRisk, .commissionIncome]
    /// Postings over a few accounts, so that most accounts repeat; amounts near Int64's ends too.
    static let postings = zip(
        Gen.int(in: 0...(accounts.count - 1)),
        Gen.element(of: [Int64(1), -1, 250, -250, 99_999, .max, .min + 1, .max / 2, -(.max / 2)])
    ).array(of: 0...40)

    @Test("sums per account in the order given, cancelled accounts left out, sorted; overflow where the model's is")
    func matchesModel() async {
        await propertyCheck(count: 500, input: Self.postings) { picks in
            let postings = picks.map { Posting(account: Self.accounts[$0.0], amountFen: $0.1 ?? 1) }
            var sums: [AccountID: Int64] = [:]
            var overflowed = false
            for posting in postings {
                let (sum, overflow) = (sums[posting.account] ?? 0).addingReportingOverflow(posting.amountFen)
                overflowed = overflowed || overflow
                sums[posting.account] = sum
            }
            do {
                let merged = try Transfer.merging(
                    id: TransferID("t:p"), kind: .correction, at: Fixture.now, postings: postings)
                #expect(!overflowed)
                let expected = sums.filter { $0.value != 0 }.map { Posting(account: $0.key, amountFen: $0.value) }
                    .sorted { $0.account < $1.account }
                #expect(merged.postings == expected)
                #expect(
                    merged == Transfer(id: TransferID("t:p"), kind: .correction, at: Fixture.now, postings: expected))
            } catch let error as LedgerError {
                #expect(overflowed && error.code == .overflow)
            } catch {
                Issue.record("not a ledger error: \(error)")
            }
        }
    }
}
