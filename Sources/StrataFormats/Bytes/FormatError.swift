/// An error found in input bytes: where (absolute byte offset in the file or payload) and what.
public struct FormatError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Absolute byte offset where the problem was detected.
    public var offset: Int
    /// What the reader expected and what it found.
    public var message: String
    /// What the reader was doing (for RDB: the db and key being read), when known.
    public var context: String?

    public init(offset: Int, _ message: String, context: String? = nil) {
        self.offset = offset
        self.message = message
        self.context = context
    }

    public var description: String {
        var s = "at byte offset \(offset): \(message)"
        if let context { s += " (\(context))" }
        return s
    }
}
