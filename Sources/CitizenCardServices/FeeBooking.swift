import CitizenCardDomain
import Ledger
import Storage

extension ChangeSet {
    /// A fee charged at the counter: its receipt and, when money was taken, the ledger
    /// transfer from the outlet's cash to fee income under the receipt's id (`fee:<receipt id>`, the
    /// receipt's number as its memo), in the same commit. A free item has a receipt and no transfer.
    mutating func charge(_ receipt: Receipt) {
        add(.insertReceipt(receipt))
        guard receipt.amount.fen > 0 else { return }
        add(
            .postTransfer(
                .fee(
                    id: Receipt.transferID(receipt.id), paidBy: .cash(outlet: receipt.outletID),
                    amountFen: receipt.amount.fen, at: receipt.at, memo: "receipt \(receipt.number)"),
                policy: .standard))
    }
}

extension Receipt {
    /// The ledger transfer of a paid receipt.
    static func transferID(_ id: Receipt.ID) -> TransferID { TransferID("fee:\(id)") }
}
