import CitizenCardDomain
import Ledger
import PropertyBased
import Synchronization
import Testing

/// Random sequences of transfers, valid and invalid, with repeats and conflicting reuses of earlier
/// ids, checked step by step against a plain model of the ledger.
@Suite("LedgerBook: random sequences")
struct LedgerPropertyTests {
    /// One step: what to do (repeat, conflict, invalid, or one of the standard transfers), two
    /// choices of accounts, an amount, and which earlier transfer to reuse.
    static let step = zip(
        Gen.int(in: 0...99),
        Gen.int(in: 0...15),
        Gen.int(in: 0...15),
        Gen.int64(in: 1...60_000),
        Gen.int(in: 0...1_000)
    )
    static let walks = zip(step.array(of: 1...120), Gen.element(of: [Int64(100_000), 20_000, 1_000]))

    /// The answers seen over all walks: "applied", "already_applied" or an error code.
    final class Seen: Sendable {
        let answers = Mutex<Set<String>>([])
    }

    @Test("L1-L5 hold after every step of any sequence")
    func randomSequences() async {
        let seen = Seen()
        await propertyCheck(count: 1000, input: Self.walks) { steps, capFen in
            let answers = Self.walk(steps, policy: LedgerPolicy(purseCapFen: capFen ?? LedgerPolicy.defaultPurseCapFen))
            seen.answers.withLock { $0.formUnion(answers) }
        }
        // The walks are worth something only if they reach every answer the ledger can give them.
        let expected: Set<String> = [
            "applied", "already_applied", "id_conflict", "purse_below_zero", "purse_above_cap",
            "balance_below_minimum", "unbalanced", "invalid_amount", "too_few_postings", "duplicate_account",
            "overflow",
        ]
        #expect(seen.answers.withLock { $0 } == expected)
    }

    @discardableResult
    static func walk(_ steps: [(Int, Int, Int, Int64, Int)], policy: LedgerPolicy) -> Set<String> {
        var answers: Set<String> = []
        var book = LedgerBook(policy: policy)
        var model: [AccountID: Int64] = [:]
        // Each transfer tried so far, with the code it is refused with whatever the balances.
        var attempted: [(Transfer, LedgerError.Code?)] = []
        var applied: [TransferID: JournalEntry] = [:]
        for (index, (shape, a, b, amountFen, pick)) in steps.enumerated() {
            let transfer: Transfer
            var expectedError: LedgerError.Code?
            if shape < 10, !attempted.isEmpty {
                // A repeat of an earlier transfer, applied or refused.
                (transfer, expectedError) = attempted[pick % attempted.count]
            } else if shape < 15, !applied.isEmpty {
                let earlier = book.journal[pick % book.journal.count].transfer
                transfer = Self.conflicting(with: earlier, variant: pick)
                expectedError = .idConflict
            } else if shape < 25 {
                (transfer, expectedError) = Self.invalid(index: index, variant: shape, a: a, b: b, amountFen: amountFen)
            } else {
                transfer = Self.standard(index: index, variant: shape, a: a, b: b, amountFen: amountFen)
            }
            attempted.append((transfer, expectedError == .idConflict ? nil : expectedError))
            let before = (book.balances, book.journal)
            if let recorded = applied[transfer.id], transfer != recorded.transfer {
                expectedError = .idConflict
            } else if let recorded = applied[transfer.id] {
                // L2: the first outcome, nothing changes.
                let outcome = try? book.apply(transfer)
                #expect(outcome == TransferOutcome(entry: recorded, disposition: .alreadyApplied))
                #expect(book.balances == before.0 && book.journal == before.1)
                answers.insert("already_applied")
                continue
            }
            if expectedError == nil { expectedError = Self.modelRefusal(transfer, model: model, policy: policy) }
            do {
                let outcome = try book.apply(transfer)
                #expect(expectedError == nil, "applied although the model expects \(String(describing: expectedError))")
                #expect(outcome.disposition == .applied)
                #expect(outcome.entry.sequence == Int64(before.1.count) + 1 && book.journal.last == outcome.entry)
                for posting in transfer.postings { model[posting.account, default: 0] += posting.amountFen }
                applied[transfer.id] = outcome.entry
                answers.insert("applied")
            } catch {
                // L3: refused with the expected code, nothing changed.
                #expect(error.code == expectedError, "\(error)")
                answers.insert(error.code.rawValue)
                #expect(book.balances == before.0 && book.journal == before.1)
            }
            Self.checkInvariants(book, model: model, policy: policy)
        }
        // L5: the journal replayed from nothing gives the same balances.
        let rebuilt = try? LedgerBook.rebuilt(from: book.journal, policy: policy)
        #expect(rebuilt?.balances == book.balances)
        return answers
    }

    static func checkInvariants(_ book: LedgerBook, model: [AccountID: Int64], policy: LedgerPolicy) {
        // L1
        #expect(book.sumOfAllBalances == 0)
        #expect(book.balances.filter { $0.value != 0 } == model.filter { $0.value != 0 })
        // L4
        for (account, balanceFen) in book.balances {
            let normal = account.normalBalance(signed: balanceFen)
            switch account.category {
            case .purse: #expect((0...policy.purseCapFen).contains(normal), "\(account): \(normal)")
            case .merchantPayable, .refundsPayable: #expect(normal >= 0, "\(account): \(normal)")
            default: break
            }
        }
    }

    /// What the ledger must answer for a well-formed transfer: the first account (in key order)
    /// that would leave its limits, or nil.
    static func modelRefusal(_ transfer: Transfer, model: [AccountID: Int64], policy: LedgerPolicy) -> LedgerError.Code?
    {
        for posting in transfer.postings {
            let after = posting.account.normalBalance(signed: model[posting.account, default: 0] + posting.amountFen)
            switch posting.account.category {
            case .purse where after < 0: return .purseBelowZero
            case .purse where after > policy.purseCapFen: return .purseAboveCap
            case .merchantPayable where after < 0, .refundsPayable where after < 0: return .balanceBelowMinimum
            default: continue
            }
        }
        return nil
    }

    static func conflicting(with earlier: Transfer, variant: Int) -> Transfer {
        switch variant % 3 {
        case 0:
            Transfer(id: earlier.id, kind: earlier.kind, at: earlier.at, memo: "changed", postings: earlier.postings)
        case 1:
            Transfer(
                id: earlier.id, kind: earlier.kind, at: earlier.at.adding(seconds: 1), memo: earlier.memo,
                postings: earlier.postings)
        default:
            Transfer(
                id: earlier.id, kind: earlier.kind, at: earlier.at, memo: earlier.memo,
                postings: earlier.postings.map { Posting(account: $0.account, amountFen: $0.amountFen * 2) })
        }
    }

    static func invalid(index: Int, variant: Int, a: Int, b: Int, amountFen: Int64) -> (Transfer, LedgerError.Code) {
        let id = TransferID("bad:\(index)")
        let first = AccountID.purse(Fixture.cards[a % 4])
        let second = AccountID.merchantPayable(Fixture.merchants[b % 2])
        func make(_ postings: [Posting]) -> Transfer {
            Transfer(id: id, kind: .correction, at: Fixture.now, postings: postings)
        }
        switch variant % 5 {
        case 0: return (make([.debit(first, fen: amountFen), .credit(second, fen: amountFen + 1)]), .unbalanced)
        case 1: return (make([.debit(first, fen: 0), .credit(second, fen: amountFen)]), .invalidAmount)
        case 2: return (make([.debit(first, fen: amountFen)]), .tooFewPostings)
        case 3: return (make([.debit(first, fen: amountFen), .credit(first, fen: amountFen)]), .duplicateAccount)
        default:
            return (
                make([.debit(first, fen: .max), .debit(.operatorRisk, fen: amountFen), .credit(second, fen: .max)]),
                .overflow
            )
        }
    }

    /// One of the e-purse's standard transfers over a small set of accounts.
    static func standard(index: Int, variant: Int, a: Int, b: Int, amountFen: Int64) -> Transfer {
        let id = TransferID("t:\(index)")
        let at = Fixture.now.adding(seconds: Int64(index))
        let card = Fixture.cards[a % 4]
        let other = Fixture.cards[(a + 1 + b % 3) % 4]
        let merchant = Fixture.merchants[b % 2]
        let outlet = Fixture.outlets[b % 2]
        let funding: [LoadFunding] = [.cash(outlet: outlet), .bankTransfer, .oldCardRefund]
        let channels: [PaymentChannel] = [.cash(outlet: outlet), .bankTransfer, .purse(card)]
        switch variant % 10 {
        case 0, 1:
            return .load(id: id, card: card, funding: funding[b % 3], amountFen: amountFen, at: at)
        case 2, 3:
            return .purchase(id: id, card: card, merchant: merchant, amountFen: amountFen, at: at)
        case 4:
            return .commission(id: id, merchant: merchant, amountFen: amountFen / 100 + 1, at: at)
        case 5:
            return b % 2 == 0
                ? .settlement(id: id, merchant: merchant, amountFen: amountFen, at: at)
                : .fee(id: id, paidBy: channels[a % 3], amountFen: amountFen / 10 + 1, at: at)
        case 6:
            return .balanceMigration(id: id, from: card, to: other, amountFen: amountFen, at: at)
        case 7:
            return b % 2 == 0
                ? .cancellationRefund(id: id, card: card, amountFen: amountFen, at: at)
                : .refundPayout(id: id, paidBy: channels[a % 2], amountFen: amountFen, at: at)
        case 8:
            return b % 2 == 0
                ? .riskWriteOff(id: id, merchant: merchant, amountFen: amountFen, at: at)
                : .cashDeposit(id: id, outlet: outlet, amountFen: amountFen, at: at)
        default:
            let records = [(card, amountFen / 3 + 1), (other, amountFen / 5 + 1), (card, amountFen / 7 + 1)]
            guard let batch = try? Transfer.purchaseBatch(id: id, merchant: merchant, amountsFen: records, at: at)
            else {
                preconditionFailure("small batches do not overflow")
            }
            return batch
        }
    }
}
