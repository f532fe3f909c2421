/// An operating error: bad input, a business rule, a conflict. It has a stable machine `code`,
/// a title in English and Chinese, and a detail that never contains personal data or SQL.
///
/// Programmer errors are `precondition`s, not values of this type. The HTTP layer maps codes to
/// statuses and RFC 9457 problem documents; the CLI prints `code: detail` and exits non-zero.
public struct CitizenCardError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Code
    /// The request field the error is about, when there is one (`idNumber`, `reason` …).
    public let field: String?
    /// English detail for this occurrence; free of personal data.
    public let detail: String?
    /// Chinese detail, when it differs from the code's title.
    public let detailZh: String?
    /// For `too_many_attempts`: how long until a retry may succeed (HTTP `Retry-After`).
    public let retryAfterSeconds: Int64?

    public init(
        _ code: Code, field: String? = nil, _ detail: String? = nil, zh detailZh: String? = nil,
        retryAfterSeconds: Int64? = nil
    ) {
        self.code = code
        self.field = field
        self.detail = detail
        self.detailZh = detailZh
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String {
        var text = code.rawValue
        if let field { text += " (\(field))" }
        if let detail { text += ": \(detail)" }
        return text
    }

    /// Stable codes. Clients may rely on them; a code is never reused with another meaning.
    /// Listed in the precedence in which a request is checked: syntax, authentication,
    /// authorisation, existence, validity, business rules, concurrency.
    public enum Code: String, Sendable, CaseIterable, Codable {
        // Syntax of the request.
        case malformedRequest = "malformed_request"
        case unknownField = "unknown_field"
        case methodNotAllowed = "method_not_allowed"
        case bodyTooLarge = "body_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        // Who is asking.
        case unauthenticated
        case invalidCredentials = "invalid_credentials"
        case tooManyAttempts = "too_many_attempts"
        case forbidden
        case wrongOutlet = "wrong_outlet"
        /// A department asked without an active grant of its own (requested, expired, revoked …).
        case grantInactive = "grant_inactive"
        /// The grant was suspended (by the center, or for bulk scraping): nothing more until resumed.
        case grantSuspended = "grant_suspended"
        /// A department request lacks a purpose header (`X-Purpose`, `X-Case-Number`, `X-End-User`).
        case purposeRequired = "purpose_required"
        // What is asked about.
        case notFound = "not_found"
        // Validity of the input.
        case invalidField = "invalid_field"
        case invalidResidentID = "invalid_resident_id"
        case invalidPhoto = "invalid_photo"
        // Business rules.
        case personExists = "person_exists"
        case notEligible = "not_eligible"
        case personDeceased = "person_deceased"
        case photoRequired = "photo_required"
        case applicationExists = "application_exists"
        case liveCardExists = "live_card_exists"
        case successorExists = "successor_exists"
        case transitionNotAllowed = "transition_not_allowed"
        case notYetDue = "not_yet_due"
        case identityMismatch = "identity_mismatch"
        case relativeRequired = "relative_required"
        case feeNotScheduled = "fee_not_scheduled"
        case feeMismatch = "fee_mismatch"
        case batchNotOpen = "batch_not_open"
        case idempotencyKeyReused = "idempotency_key_reused"
        case insufficientBalance = "insufficient_balance"
        case balanceLimit = "balance_limit"
        case batchRefused = "batch_refused"
        case notClosable = "not_closable"
        /// The card is not active (lost, blocked, cancelled…): no electronic card code.
        case cardNotUsable = "card_not_usable"
        /// The bank named is not a partner bank active today (issue 20).
        case bankNotActive = "bank_not_active"
        /// A message said to come from a bank was not signed by it, or is stale (issue 20).
        case bankSignatureInvalid = "bank_signature_invalid"
        /// The bank did not answer, or answered with an error (issue 20).
        case bankUnavailable = "bank_unavailable"
        /// Related affairs of the card are not settled yet (an interrupted load, records parked in
        /// the waiting period): the detail names each (issue 21, R-17).
        case affairsPending = "affairs_pending"
        /// The card in the counter's reader is not the card of the operation, or not a citizen card.
        case cardMismatch = "card_mismatch"
        /// No counter agent, no card in its reader, or the card did not answer.
        case readerUnavailable = "reader_unavailable"
        // Concurrency and the system.
        case conflict
        case unavailable
        case `internal`

        public var title: String {
            switch self {
            case .malformedRequest: "The request body is not valid JSON of the expected shape"
            case .unknownField: "The request has a field this operation does not take"
            case .methodNotAllowed: "This resource does not take this method"
            case .bodyTooLarge: "The request body is larger than allowed"
            case .unsupportedMediaType: "The content type is not accepted here"
            case .unauthenticated: "Log in first"
            case .invalidCredentials: "Wrong user name or password"
            case .tooManyAttempts: "Too many failed attempts; wait before trying again"
            case .forbidden: "Your role may not do this"
            case .wrongOutlet: "This belongs to another service outlet"
            case .notFound: "Not found"
            case .invalidField: "A field has an invalid value"
            case .invalidResidentID: "The resident ID number is invalid"
            case .invalidPhoto: "The photo must be a JPEG or PNG image of at most 2 MiB"
            case .personExists: "A person with this ID number is already registered"
            case .notEligible: "The person is not eligible for a citizen card"
            case .personDeceased: "The person is recorded as deceased"
            case .photoRequired: "A portrait photo is required first"
            case .applicationExists: "The person already has an application or card in progress"
            case .liveCardExists: "The person already holds a card"
            case .successorExists: "A new card for this card is already in progress"
            case .transitionNotAllowed: "This action is not allowed in the card's current state"
            case .notYetDue: "This action is not due yet"
            case .identityMismatch: "The identity document does not match the card holder"
            case .relativeRequired: "Only a close relative may do this"
            case .feeNotScheduled: "The fee schedule has no fee for this item"
            case .feeMismatch: "The fee differs from the fee schedule"
            case .batchNotOpen: "The production batch is not in the required state"
            case .idempotencyKeyReused: "The idempotency key was used for a different request"
            case .insufficientBalance: "The e-purse balance is not enough for this amount"
            case .balanceLimit: "The amount would take the balance beyond its limit"
            case .batchRefused: "The batch was refused as a whole; nothing of it was recorded"
            case .notClosable: "This record cannot be closed"
            case .cardNotUsable: "This card is not usable, so it has no electronic card code"
            case .bankNotActive: "The bank is not a partner bank active today"
            case .bankSignatureInvalid: "The message is not signed by the bank, or is too old"
            case .bankUnavailable: "The bank did not answer; try again later"
            case .affairsPending: "Related affairs of the card are not settled yet"
            case .cardMismatch: "The card in the reader is not the card of this operation"
            case .readerUnavailable: "The counter's card reader is not available"
            case .grantInactive: "There is no active grant for this request"
            case .grantSuspended: "The grant is suspended"
            case .purposeRequired: "Say the purpose, case number and end user of the request"
            case .conflict: "Someone else changed this at the same time; reload and try again"
            case .unavailable: "The service is temporarily unavailable"
            case .internal: "Internal error"
            }
        }

        public var titleZh: String {
            switch self {
            case .malformedRequest: "请求内容不是所需格式的有效JSON"
            case .unknownField: "请求包含此操作不接受的字段"
            case .methodNotAllowed: "此资源不支持该请求方法"
            case .bodyTooLarge: "请求内容超过大小限制"
            case .unsupportedMediaType: "不接受此内容类型"
            case .unauthenticated: "请先登录"
            case .invalidCredentials: "用户名或密码错误"
            case .tooManyAttempts: "失败次数过多，请稍后再试"
            case .forbidden: "您的角色无权执行此操作"
            case .wrongOutlet: "该业务属于其他服务网点"
            case .notFound: "未找到"
            case .invalidField: "字段值无效"
            case .invalidResidentID: "居民身份证号码无效"
            case .invalidPhoto: "照片须为不超过2 MiB的JPEG或PNG图像"
            case .personExists: "该身份证号码已登记"
            case .notEligible: "该人员不符合市民卡发放条件"
            case .personDeceased: "该人员已登记为死亡"
            case .photoRequired: "请先采集人像照片"
            case .applicationExists: "该人员已有办理中的申领或卡片"
            case .liveCardExists: "该人员已持有市民卡"
            case .successorExists: "该卡的新卡已在办理中"
            case .transitionNotAllowed: "卡片当前状态不允许此操作"
            case .notYetDue: "尚未到办理时间"
            case .identityMismatch: "身份证件与持卡人不符"
            case .relativeRequired: "须由近亲属办理"
            case .feeNotScheduled: "收费标准中没有此收费项目"
            case .feeMismatch: "收费金额与收费标准不符"
            case .batchNotOpen: "制卡批次不处于所需状态"
            case .idempotencyKeyReused: "幂等键已用于另一请求"
            case .insufficientBalance: "电子钱包余额不足"
            case .balanceLimit: "该金额将使余额超出上限"
            case .batchRefused: "整批被拒收，其中任何记录均未入账"
            case .notClosable: "该记录不能关闭"
            case .cardNotUsable: "此卡当前不可用，无法生成电子卡码"
            case .bankNotActive: "该银行不是当前有效的合作银行"
            case .bankSignatureInvalid: "报文不是该银行签名的，或已过时"
            case .bankUnavailable: "银行未应答，请稍后再试"
            case .affairsPending: "该卡尚有未了结的相关业务"
            case .cardMismatch: "读卡器中的卡不是本业务的卡"
            case .readerUnavailable: "柜台读卡器不可用"
            case .grantInactive: "没有可用于此请求的有效授权"
            case .grantSuspended: "该授权已暂停"
            case .purposeRequired: "请说明请求的用途、案件编号和最终使用人"
            case .conflict: "数据已被他人同时修改，请刷新后重试"
            case .unavailable: "服务暂时不可用"
            case .internal: "内部错误"
            }
        }
    }
}

extension CitizenCardError {
    public static func notFound(_ what: String) -> CitizenCardError {
        CitizenCardError(.notFound, "\(what) not found")
    }

    public static func invalid(_ field: String, _ detail: String, zh: String? = nil) -> CitizenCardError {
        CitizenCardError(.invalidField, field: field, detail, zh: zh)
    }

    public static func invalidResidentID(_ reason: ResidentID.Invalid, field: String = "idNumber") -> CitizenCardError {
        CitizenCardError(.invalidResidentID, field: field, reason.reason, zh: reason.reasonZh)
    }
}
