// Stand-in until the codec branch lands (it defines CredentialAlgorithm in COSESign1.swift).
public enum CredentialAlgorithm: Int64, Sendable, Hashable, Codable, CaseIterable {
    case es256 = -7
    case sm2sm3 = -70_001
}
