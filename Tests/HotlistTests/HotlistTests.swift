import Testing

@testable import Hotlist
