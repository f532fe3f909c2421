/// The electronic citizen card (issue 19): the signed card code (CWT in COSE_Sign1, deflated and
/// Base45-encoded for a QR symbol), the city's signing keys and their published list, and the
/// status list of every issued card (IETF Token Status List).
public enum Credentials {}
