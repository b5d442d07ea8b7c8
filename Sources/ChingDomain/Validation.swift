/// One bad field in a request: `path` is dotted (`line_items.2.quantity`).
public struct FieldIssue: Sendable, Equatable {
    public let path: String
    public let message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
}

/// Reads the fields of a JSON request body, collecting an issue for every bad one instead of
/// stopping at the first, so that a client learns everything that is wrong in one round trip.
public struct FieldReader {
    public let object: JSONObject
    private let prefix: String
    public private(set) var issues: [FieldIssue] = []
    /// A body that is not an object is one issue; nothing else is reported about it.
    private var bodyRejected = false

    /// A reader of the top-level body; a body that is not an object is one issue at path "".
    public init(body: JSONValue) {
        if let object = body.objectValue {
            self.object = object
        } else {
            self.object = JSONObject()
            issues.append(FieldIssue(path: "", message: "The request body must be a JSON object."))
            bodyRejected = true
        }
        prefix = ""
    }

    private init(object: JSONObject, prefix: String) {
        self.object = object
        self.prefix = prefix
    }

    public func path(_ key: String) -> String { prefix + key }

    public mutating func fail(_ key: String, _ message: String) {
        guard !bodyRejected else { return }
        issues.append(FieldIssue(path: path(key), message: message))
    }

    public mutating func merge(_ other: FieldReader) { issues += other.issues }

    /// Whether the key was sent at all (explicit `null` counts as sent).
    public func has(_ key: String) -> Bool { object[key] != nil }
    /// Whether the key was sent with a value other than `null`: what "required when" rules check,
    /// since `null` means "not given" there (`"line_items": null` is no cart).
    public func hasValue(_ key: String) -> Bool { object[key].map { $0 != .null } ?? false }
    /// Whether the key was sent as an explicit `null` (a patch uses that to clear a field).
    public func isNull(_ key: String) -> Bool { object[key] == .null }

    /// Every key not in `allowed` is an issue: a typo should not silently do nothing.
    public mutating func rejectUnknownFields(allowing allowed: Set<String>) {
        for key in object.keys where !allowed.contains(key) {
            fail(key, "Unknown field.")
        }
    }

    private mutating func value(_ key: String, required: Bool) -> JSONValue? {
        guard let value = object[key], value != .null else {
            if required { fail(key, "This field is required.") }
            return nil
        }
        return value
    }

    /// A string, trimmed of surrounding white space, between `minLength` and `maxLength` characters.
    public mutating func string(_ key: String, required: Bool = false, minLength: Int = 1, maxLength: Int = 255) -> String? {
        guard let value = value(key, required: required) else { return nil }
        guard case .string(let raw) = value else {
            fail(key, "Must be a string, not \(value.typeName).")
            return nil
        }
        let string = raw.trimmingWhitespace()
        // NULs and other control characters would be printed on tax documents and in emails.
        if string.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            fail(key, "Must not contain control characters.")
            return nil
        }
        if string.count < minLength {
            fail(key, minLength == 1 ? "Must not be empty." : "Must be at least \(minLength) characters.")
            return nil
        }
        if string.count > maxLength {
            fail(key, "Must be at most \(maxLength) characters.")
            return nil
        }
        return string
    }

    /// An integer within `range`. Floats, numeric strings and integers beyond 64 bits are refused.
    public mutating func integer(_ key: String, required: Bool = false, in range: ClosedRange<Int64>) -> Int64? {
        guard let value = value(key, required: required) else { return nil }
        guard case .int(let int) = value else {
            fail(key, "Must be an integer, not \(value.typeName).")
            return nil
        }
        guard range.contains(int) else {
            if range.upperBound == .max {
                fail(key, "Must be at least \(range.lowerBound).")
            } else {
                fail(key, "Must be between \(range.lowerBound) and \(range.upperBound).")
            }
            return nil
        }
        return int
    }

    public mutating func boolean(_ key: String, required: Bool = false) -> Bool? {
        guard let value = value(key, required: required) else { return nil }
        guard case .bool(let bool) = value else {
            fail(key, "Must be a boolean, not \(value.typeName).")
            return nil
        }
        return bool
    }

    /// One of the enum's raw values.
    public mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, required: Bool = false, as type: Choice.Type = Choice.self
    ) -> Choice? where Choice.RawValue == String {
        guard let value = value(key, required: required) else { return nil }
        let allowed = Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard case .string(let raw) = value, let choice = Choice(rawValue: raw) else {
            fail(key, "Must be one of \(allowed).")
            return nil
        }
        return choice
    }

    /// An id of the given kind (the prefix is checked so that a `pm_` sent as `customer` is caught here).
    public mutating func id(_ key: String, required: Bool = false, prefix idPrefix: IDPrefix) -> String? {
        guard let string = string(key, required: required, maxLength: 64) else { return nil }
        guard string.hasPrefix(idPrefix.rawValue) else {
            fail(key, "Must be an id starting with \"\(idPrefix.rawValue)\".")
            return nil
        }
        return string
    }

    /// A nested object, read with its own reader whose paths carry this key.
    public mutating func nested(_ key: String, required: Bool = false) -> FieldReader? {
        guard let value = value(key, required: required) else { return nil }
        guard case .object(let object) = value else {
            fail(key, "Must be an object, not \(value.typeName).")
            return nil
        }
        return FieldReader(object: object, prefix: path(key) + ".")
    }

    /// A reader for each element of an array of objects, with paths `key.N.`.
    public mutating func array(_ key: String, required: Bool = false, count range: ClosedRange<Int>) -> [FieldReader]? {
        guard let value = value(key, required: required) else { return nil }
        guard case .array(let elements) = value else {
            fail(key, "Must be an array, not \(value.typeName).")
            return nil
        }
        guard range.contains(elements.count) else {
            fail(key, "Must have between \(range.lowerBound) and \(range.upperBound) items.")
            return nil
        }
        var readers: [FieldReader] = []
        for (index, element) in elements.enumerated() {
            guard case .object(let object) = element else {
                issues.append(FieldIssue(path: path(key) + ".\(index)", message: "Must be an object, not \(element.typeName)."))
                continue
            }
            readers.append(FieldReader(object: object, prefix: path(key) + ".\(index)."))
        }
        return readers
    }

    /// Metadata: at most 50 string keys (≤ 40 characters) with string values (≤ 500 characters).
    public mutating func metadata(_ key: String = "metadata") -> [String: String]? {
        guard let value = value(key, required: false) else { return nil }
        guard case .object(let object) = value else {
            fail(key, "Must be an object of string values, not \(value.typeName).")
            return nil
        }
        guard object.entries.count <= 50 else {
            fail(key, "Must have at most 50 keys.")
            return nil
        }
        var metadata: [String: String] = [:]
        var valid = true
        for (entryKey, entryValue) in object.entries {
            let entryPath = path(key) + "." + entryKey
            if entryKey.isEmpty || entryKey.count > 40 {
                issues.append(FieldIssue(path: entryPath, message: "Metadata keys must be 1 to 40 characters."))
                valid = false
            } else if case .string(let string) = entryValue, string.count <= 500 {
                metadata[entryKey] = string
            } else {
                issues.append(FieldIssue(path: entryPath, message: "Metadata values must be strings of at most 500 characters."))
                valid = false
            }
        }
        return valid ? metadata : nil
    }

    /// A moment: an ISO 8601 string in UTC or with an offset (`2027-01-31T09:15:22Z`), or whole
    /// seconds since 1970.
    public mutating func timestamp(_ key: String, required: Bool = false) -> Timestamp? {
        guard let value = value(key, required: required) else { return nil }
        switch value {
        case .string(let text):
            if let time = Timestamp(iso8601: text) { return time }
        case .int(let seconds) where (0...253_402_300_799).contains(seconds):
            return Timestamp(milliseconds: seconds * 1000)
        default: break
        }
        fail(key, "Must be a time in ISO 8601 (2027-01-31T09:15:22Z) or seconds since 1970.")
        return nil
    }

    /// An email address: one "@", a non-empty local part, a dotted domain, no spaces, ≤ 254 characters.
    public mutating func email(_ key: String, required: Bool = false) -> String? {
        guard let string = string(key, required: required, maxLength: 254) else { return nil }
        guard Contact.isEmail(string) else {
            fail(key, "Must be an email address.")
            return nil
        }
        return string.lowercased()
    }

    /// A phone number, returned in E.164.
    public mutating func phone(_ key: String, required: Bool = false) -> String? {
        guard let string = string(key, required: required, maxLength: 32) else { return nil }
        guard let e164 = Contact.e164Phone(string) else {
            fail(key, "Must be an Israeli phone number (050-1234567) or an international one in E.164 (+972501234567).")
            return nil
        }
        return e164
    }

    /// An absolute http(s) URL (`https` only unless `allowHTTP`), normalized to the ASCII form we store
    /// and send: see `WebAddress.normalized`.
    public mutating func url(_ key: String, required: Bool = false, allowHTTP: Bool) -> String? {
        guard let string = string(key, required: required, maxLength: 2048) else { return nil }
        switch WebAddress.normalized(string, allowHTTP: allowHTTP) {
        case .success(let url) where url.utf8.count > 4096:
            // Percent-encoding can multiply a non-ASCII URL; headers carrying it have limits.
            fail(key, "Must be at most 4096 characters once encoded.")
            return nil
        case .success(let url):
            return url
        case .failure(let refusal):
            fail(key, refusal.message)
            return nil
        }
    }
}

/// Checks on contact details.
public enum Contact {
    public static func isEmail(_ string: String) -> Bool {
        let parts = string.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let domain = parts[1]
        guard !string.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," }) else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }
    }

    /// `050-1234567`, `02-6543210`, `+972 50 123 4567`, `+14155550100` → E.164; nil when it is none of these.
    public static func e164Phone(_ input: String) -> String? {
        let compact = input.filter { !" -().".contains($0) }
        if compact.hasPrefix("+") {
            let digits = compact.dropFirst()
            guard (8...15).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), digits.first != "0" else { return nil }
            return compact
        }
        // Israeli national format: a trunk 0, then 8 (landline) or 9 (mobile) digits.
        guard compact.hasPrefix("0"), (9...10).contains(compact.count), compact.allSatisfy(\.isASCIIDigit),
            compact.dropFirst().first != "0"
        else { return nil }
        return "+972" + compact.dropFirst()
    }
}

extension Character {
    /// Only the ten ASCII digits: "2\u{20E3}" (a digit with a combining mark) is not one.
    public var isASCIIDigit: Bool { asciiValue.map { (48...57).contains($0) } ?? false }
}

extension String {
    public func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
