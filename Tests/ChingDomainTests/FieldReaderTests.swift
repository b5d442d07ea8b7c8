import ChingDomain
import Testing

/// A reader over the JSON text of a request body.
func reader(_ json: String) throws -> FieldReader {
    FieldReader(body: try JSONValue.parse(json))
}

func issue(_ path: String, _ message: String) -> FieldIssue {
    FieldIssue(path: path, message: message)
}

@Suite("FieldReader: the body, presence and unknown fields")
struct FieldReaderBasicsTests {
    @Test("A body that is not an object is one issue at the empty path", arguments: [
        "[]", "\"text\"", "12", "null", "true",
    ])
    func bodyMustBeObject(json: String) throws {
        let fields = try reader(json)
        #expect(fields.issues == [issue("", "The request body must be a JSON object.")])
        #expect(fields.object.isEmpty)
    }

    @Test("A body that is not an object reports nothing else, not even required fields")
    func nonObjectBodyIsOneIssue() throws {
        var fields = try reader("[1, 2]")
        _ = fields.string("name", required: true)
        _ = fields.integer("amount", required: true, in: 1...100)
        fields.fail("amount", "cart_total_invalid")
        #expect(fields.issues == [issue("", "The request body must be a JSON object.")])
    }

    @Test("An object body starts with no issues")
    func objectBodyHasNoIssues() throws {
        #expect(try reader(#"{"a": 1}"#).issues.isEmpty)
    }

    @Test("has() is true for a sent key, explicit null included; isNull() only for null")
    func hasAndIsNull() throws {
        let fields = try reader(#"{"name": "Dana", "email": null}"#)
        #expect(fields.has("name"))
        #expect(fields.has("email"))
        #expect(!fields.has("phone"))
        #expect(fields.isNull("email"))
        #expect(!fields.isNull("name"))
        #expect(!fields.isNull("phone"))
    }

    @Test("Unknown fields are each reported at their own path")
    func unknownFieldsRejected() throws {
        var fields = try reader(#"{"name": "Dana", "nmae": "typo", "emial": "x", "email": "a@b.co"}"#)
        fields.rejectUnknownFields(allowing: ["name", "email", "phone"])
        #expect(fields.issues == [issue("nmae", "Unknown field."), issue("emial", "Unknown field.")])
    }

    @Test("Known fields alone give no issue")
    func knownFieldsAccepted() throws {
        var fields = try reader(#"{"name": "Dana"}"#)
        fields.rejectUnknownFields(allowing: ["name", "email"])
        #expect(fields.issues.isEmpty)
    }

    @Test("Every bad field is collected, not only the first")
    func collectsEveryIssue() throws {
        var fields = try reader(#"{"amount": "100", "currency": 5}"#)
        _ = fields.string("name", required: true)
        _ = fields.integer("amount", required: true, in: 1...Money.maximumAmount)
        _ = fields.string("currency")
        #expect(fields.issues == [
            issue("name", "This field is required."),
            issue("amount", "Must be an integer, not string."),
            issue("currency", "Must be a string, not integer."),
        ])
    }

    @Test("fail() records an issue at the reader's path")
    func failRecords() throws {
        var fields = try reader("{}")
        fields.fail("amount", "cart_total_invalid")
        #expect(fields.issues == [issue("amount", "cart_total_invalid")])
        #expect(fields.path("amount") == "amount")
    }
}

@Suite("FieldReader: required, optional and null")
struct FieldReaderPresenceTests {
    @Test("A required field that is missing or null is reported as required", arguments: [
        "{}", #"{"name": null}"#,
    ])
    func requiredMissingOrNull(json: String) throws {
        var fields = try reader(json)
        #expect(fields.string("name", required: true) == nil)
        #expect(fields.issues == [issue("name", "This field is required.")])
    }

    @Test("An optional field that is missing or null is nil without an issue", arguments: [
        "{}", #"{"name": null}"#,
    ])
    func optionalMissingOrNull(json: String) throws {
        var fields = try reader(json)
        #expect(fields.string("name") == nil)
        #expect(fields.integer("count", in: 0...10) == nil)
        #expect(fields.boolean("flag") == nil)
        #expect(fields.choice("locale", as: Language.self) == nil)
        #expect(fields.id("customer", prefix: .customer) == nil)
        #expect(fields.nested("installments") == nil)
        #expect(fields.array("line_items", count: 1...50) == nil)
        #expect(fields.metadata() == nil)
        #expect(fields.email("email") == nil)
        #expect(fields.phone("phone") == nil)
        #expect(fields.url("success_url", allowHTTP: false) == nil)
        #expect(fields.issues.isEmpty)
    }

    @Test("Every reader method reports a missing required field at its path")
    func everyMethodReportsRequired() throws {
        var fields = try reader("{}")
        _ = fields.integer("a", required: true, in: 0...1)
        _ = fields.boolean("b", required: true)
        _ = fields.choice("c", required: true, as: Language.self)
        _ = fields.id("d", required: true, prefix: .customer)
        _ = fields.nested("e", required: true)
        _ = fields.array("f", required: true, count: 1...2)
        _ = fields.email("g", required: true)
        _ = fields.phone("h", required: true)
        _ = fields.url("i", required: true, allowHTTP: false)
        #expect(fields.issues.map(\.path) == ["a", "b", "c", "d", "e", "f", "g", "h", "i"])
        #expect(fields.issues.allSatisfy { $0.message == "This field is required." })
    }
}

@Suite("FieldReader: strings, integers, booleans, choices and ids")
struct FieldReaderScalarTests {
    @Test("A string is returned trimmed of surrounding white space")
    func stringTrimmed() throws {
        var fields = try reader(#"{"name": "  \t Dana Cohen \n "}"#)
        #expect(fields.string("name") == "Dana Cohen")
        #expect(fields.issues.isEmpty)
    }

    @Test("A string that is empty after trimming is refused", arguments: ["", "   ", "\\n\\t"])
    func emptyStringRefused(raw: String) throws {
        var fields = try reader(#"{"name": "\#(raw)"}"#)
        #expect(fields.string("name", required: true) == nil)
        #expect(fields.issues == [issue("name", "Must not be empty.")])
    }

    @Test("A string with a control character inside is refused: NUL, a line break, DEL, a C1 control",
          arguments: [#"Dana\u0000Cohen"#, #"\u0000\u0000"#, #"two\nlines"#, #"a\u007Fb"#, #"a\u0085b"#, #"tab\tinside"#])
    func controlCharactersRefused(raw: String) throws {
        var fields = try reader(#"{"name": "\#(raw)"}"#)
        #expect(fields.string("name", required: true) == nil)
        #expect(fields.issues == [issue("name", "Must not contain control characters.")])
    }

    @Test("A string shorter than a minimum above 1 names the minimum")
    func stringTooShort() throws {
        var fields = try reader(#"{"code": "ab"}"#)
        #expect(fields.string("code", minLength: 3) == nil)
        #expect(fields.issues == [issue("code", "Must be at least 3 characters.")])
    }

    @Test("A string longer than the maximum is refused, and one exactly at it is kept")
    func stringMaxLength() throws {
        var fields = try reader(#"{"a": "abcde", "b": "abcdef", "c": "  abcde  "}"#)
        #expect(fields.string("a", maxLength: 5) == "abcde")
        #expect(fields.string("b", maxLength: 5) == nil)
        #expect(fields.string("c", maxLength: 5) == "abcde")
        #expect(fields.issues == [issue("b", "Must be at most 5 characters.")])
    }

    @Test("The default maximum string length is 255 characters")
    func defaultMaxLength() throws {
        let ok = String(repeating: "x", count: 255)
        var fields = try reader(#"{"a": "\#(ok)", "b": "\#(ok)y"}"#)
        #expect(fields.string("a") == ok)
        #expect(fields.string("b") == nil)
        #expect(fields.issues == [issue("b", "Must be at most 255 characters.")])
    }

    @Test("Hebrew string lengths count characters, not bytes")
    func hebrewLength() throws {
        var fields = try reader(#"{"name": "שלום"}"#)
        #expect(fields.string("name", maxLength: 4) == "שלום")
        #expect(fields.issues.isEmpty)
    }

    @Test("A value of the wrong type is named in the message", arguments: [
        (#"{"v": 5}"#, "Must be a string, not integer."),
        (#"{"v": 1.5}"#, "Must be a string, not number."),
        (#"{"v": true}"#, "Must be a string, not boolean."),
        (#"{"v": []}"#, "Must be a string, not array."),
        (#"{"v": {}}"#, "Must be a string, not object."),
    ])
    func stringWrongType(json: String, message: String) throws {
        var fields = try reader(json)
        #expect(fields.string("v") == nil)
        #expect(fields.issues == [issue("v", message)])
    }

    @Test("An integer in range is returned, including both bounds", arguments: [Int64(1), 6, 12])
    func integerInRange(value: Int64) throws {
        var fields = try reader(#"{"count": \#(value)}"#)
        #expect(fields.integer("count", in: 1...12) == value)
        #expect(fields.issues.isEmpty)
    }

    @Test("An integer out of a bounded range names both bounds", arguments: [Int64(0), 13, -1])
    func integerOutOfRange(value: Int64) throws {
        var fields = try reader(#"{"count": \#(value)}"#)
        #expect(fields.integer("count", in: 1...12) == nil)
        #expect(fields.issues == [issue("count", "Must be between 1 and 12.")])
    }

    @Test("An integer below an open-ended range names only the lower bound")
    func integerBelowOpenRange() throws {
        var fields = try reader(#"{"unit_amount": -1}"#)
        #expect(fields.integer("unit_amount", in: 0...Int64.max) == nil)
        #expect(fields.issues == [issue("unit_amount", "Must be at least 0.")])
    }

    @Test("Floats, numeric strings and integers beyond 64 bits are not integers", arguments: [
        (#"{"amount": 1.5}"#, "Must be an integer, not number."),
        (#"{"amount": 100.0}"#, "Must be an integer, not number."),
        (#"{"amount": 1e3}"#, "Must be an integer, not number."),
        (#"{"amount": "100"}"#, "Must be an integer, not string."),
        (#"{"amount": 9223372036854775808}"#, "Must be an integer, not number."),
        (#"{"amount": true}"#, "Must be an integer, not boolean."),
    ])
    func integerWrongType(json: String, message: String) throws {
        var fields = try reader(json)
        #expect(fields.integer("amount", in: 1...Int64.max) == nil)
        #expect(fields.issues == [issue("amount", message)])
    }

    @Test("A boolean is read as sent")
    func booleanRead() throws {
        var fields = try reader(#"{"a": true, "b": false}"#)
        #expect(fields.boolean("a") == true)
        #expect(fields.boolean("b") == false)
        #expect(fields.issues.isEmpty)
    }

    @Test("A boolean sent as a string or number is refused", arguments: [
        (#"{"active": "true"}"#, "Must be a boolean, not string."),
        (#"{"active": 1}"#, "Must be a boolean, not integer."),
    ])
    func booleanWrongType(json: String, message: String) throws {
        var fields = try reader(json)
        #expect(fields.boolean("active") == nil)
        #expect(fields.issues == [issue("active", message)])
    }

    @Test("A choice accepts one of the enum's raw values")
    func choiceAccepted() throws {
        var fields = try reader(#"{"locale": "en", "other": "he"}"#)
        #expect(fields.choice("locale", as: Language.self) == .en)
        #expect(fields.choice("other", as: Language.self) == .he)
        #expect(fields.issues.isEmpty)
    }

    @Test("A choice outside the enum lists every allowed value", arguments: [
        #"{"locale": "fr"}"#, #"{"locale": "EN"}"#, #"{"locale": 1}"#, #"{"locale": ""}"#,
    ])
    func choiceRefused(json: String) throws {
        var fields = try reader(json)
        #expect(fields.choice("locale", as: Language.self) == nil)
        #expect(fields.issues == [issue("locale", #"Must be one of "he", "en"."#)])
    }

    @Test("An id with the right prefix is accepted, trimmed")
    func idAccepted() throws {
        var fields = try reader(#"{"customer": " cus_V8ltq1pK_MWH "}"#)
        #expect(fields.id("customer", prefix: .customer) == "cus_V8ltq1pK_MWH")
        #expect(fields.issues.isEmpty)
    }

    @Test("An id of another kind is refused with the expected prefix named")
    func idWrongPrefix() throws {
        var fields = try reader(#"{"customer": "pm_V8ltq1pK_MWH"}"#)
        #expect(fields.id("customer", prefix: .customer) == nil)
        #expect(fields.issues == [issue("customer", #"Must be an id starting with "cus_"."#)])
    }

    @Test("An id longer than 64 characters is refused")
    func idTooLong() throws {
        let long = "cus_" + String(repeating: "a", count: 61)
        var fields = try reader(#"{"customer": "\#(long)"}"#)
        #expect(fields.id("customer", prefix: .customer) == nil)
        #expect(fields.issues == [issue("customer", "Must be at most 64 characters.")])
    }
}

@Suite("FieldReader: nested objects and arrays")
struct FieldReaderNestingTests {
    @Test("A nested object's issues carry the parent key in their path")
    func nestedPath() throws {
        var fields = try reader(#"{"installments": {"count": 13}}"#)
        let installmentsValue = fields.nested("installments")
        var installments = try #require(installmentsValue)
        #expect(installments.path("count") == "installments.count")
        #expect(installments.integer("count", required: true, in: 1...12) == nil)
        fields.merge(installments)
        #expect(fields.issues == [issue("installments.count", "Must be between 1 and 12.")])
    }

    @Test("A nested object's value is read when valid")
    func nestedValue() throws {
        var fields = try reader(#"{"installments": {"count": 3}}"#)
        let installmentsValue = fields.nested("installments", required: true)
        var installments = try #require(installmentsValue)
        #expect(installments.integer("count", required: true, in: 1...12) == 3)
        fields.merge(installments)
        #expect(fields.issues.isEmpty)
    }

    @Test("Unknown fields inside a nested object are reported with the full path")
    func nestedUnknownField() throws {
        var fields = try reader(#"{"recurring": {"interval": "month", "intervall": 1}}"#)
        let recurringValue = fields.nested("recurring")
        var recurring = try #require(recurringValue)
        recurring.rejectUnknownFields(allowing: ["interval", "interval_count", "trial_period_days"])
        fields.merge(recurring)
        #expect(fields.issues == [issue("recurring.intervall", "Unknown field.")])
    }

    @Test("A nested field that is not an object is refused")
    func nestedWrongType() throws {
        var fields = try reader(#"{"installments": 3}"#)
        #expect(fields.nested("installments") == nil)
        #expect(fields.issues == [issue("installments", "Must be an object, not integer.")])
    }

    @Test("Two levels of nesting give a two-dot path")
    func doubleNesting() throws {
        var fields = try reader(#"{"a": {"b": {"c": "x"}}}"#)
        let aValue = fields.nested("a")
        var a = try #require(aValue)
        let bValue = a.nested("b")
        var b = try #require(bValue)
        _ = b.integer("c", in: 0...1)
        a.merge(b)
        fields.merge(a)
        #expect(fields.issues == [issue("a.b.c", "Must be an integer, not string.")])
    }

    @Test("An array element's issues carry the element's index in their path")
    func arrayElementPath() throws {
        var fields = try reader(#"""
            {"line_items": [
                {"name": "Mug", "quantity": 1},
                {"name": "Tee", "quantity": 2},
                {"name": "Cap", "quantity": 0}
            ]}
            """#)
        let itemsValue = fields.array("line_items", required: true, count: 1...50)
        let items = try #require(itemsValue)
        #expect(items.count == 3)
        var quantities: [Int64?] = []
        for var item in items {
            quantities.append(item.integer("quantity", in: 1...1000))
            fields.merge(item)
        }
        #expect(quantities == [1, 2, nil])
        #expect(fields.issues == [issue("line_items.2.quantity", "Must be between 1 and 1000.")])
    }

    @Test("An array element that is not an object is reported at its index and skipped")
    func arrayElementNotObject() throws {
        var fields = try reader(#"{"line_items": [{"name": "Mug"}, "Tee", {"name": "Cap"}]}"#)
        let itemsValue = fields.array("line_items", count: 1...50)
        let items = try #require(itemsValue)
        #expect(items.count == 2)
        #expect(fields.issues == [issue("line_items.1", "Must be an object, not string.")])
        var last = items[1]
        #expect(last.path("name") == "line_items.2.name")
        #expect(last.string("name") == "Cap")
    }

    @Test("An array with too few or too many items names the allowed range", arguments: [
        #"{"line_items": []}"#, #"{"line_items": [{}, {}, {}]}"#,
    ])
    func arrayCountOutOfRange(json: String) throws {
        var fields = try reader(json)
        #expect(fields.array("line_items", count: 1...2) == nil)
        #expect(fields.issues == [issue("line_items", "Must have between 1 and 2 items.")])
    }

    @Test("A field expected to be an array but sent as something else is refused")
    func arrayWrongType() throws {
        var fields = try reader(#"{"line_items": {"name": "Mug"}}"#)
        #expect(fields.array("line_items", count: 1...50) == nil)
        #expect(fields.issues == [issue("line_items", "Must be an array, not object.")])
    }
}

@Suite("FieldReader: metadata")
struct FieldReaderMetadataTests {
    static func object(keys count: Int) -> String {
        "{\"metadata\": {" + (0..<count).map { "\"k\($0)\": \"v\"" }.joined(separator: ", ") + "}}"
    }

    @Test("Metadata of string values is returned as sent")
    func metadataAccepted() throws {
        var fields = try reader(#"{"metadata": {"order_id": "7", "campaign": "פסח"}}"#)
        #expect(fields.metadata() == ["order_id": "7", "campaign": "פסח"])
        #expect(fields.issues.isEmpty)
    }

    @Test("Empty metadata is an empty dictionary, not nil")
    func emptyMetadata() throws {
        var fields = try reader(#"{"metadata": {}}"#)
        #expect(fields.metadata() == [:])
        #expect(fields.issues.isEmpty)
    }

    @Test("Metadata can be read under another key")
    func metadataOtherKey() throws {
        var fields = try reader(#"{"extra": {"a": 1}}"#)
        #expect(fields.metadata("extra") == nil)
        #expect(fields.issues.map(\.path) == ["extra.a"])
    }

    @Test("Fifty metadata keys are accepted")
    func fiftyKeys() throws {
        var fields = try reader(Self.object(keys: 50))
        #expect(fields.metadata()?.count == 50)
        #expect(fields.issues.isEmpty)
    }

    @Test("Fifty-one metadata keys are refused")
    func fiftyOneKeys() throws {
        var fields = try reader(Self.object(keys: 51))
        #expect(fields.metadata() == nil)
        #expect(fields.issues == [issue("metadata", "Must have at most 50 keys.")])
    }

    @Test("A 40-character key is accepted and a 41-character key is refused at its path")
    func keyLength() throws {
        let forty = String(repeating: "k", count: 40)
        let fortyOne = String(repeating: "k", count: 41)
        var ok = try reader(#"{"metadata": {"\#(forty)": "v"}}"#)
        #expect(ok.metadata() == [forty: "v"])
        var bad = try reader(#"{"metadata": {"\#(fortyOne)": "v", "fine": "v"}}"#)
        #expect(bad.metadata() == nil)
        #expect(bad.issues == [issue("metadata.\(fortyOne)", "Metadata keys must be 1 to 40 characters.")])
    }

    @Test("An empty metadata key is refused")
    func emptyKey() throws {
        var fields = try reader(#"{"metadata": {"": "v"}}"#)
        #expect(fields.metadata() == nil)
        #expect(fields.issues == [issue("metadata.", "Metadata keys must be 1 to 40 characters.")])
    }

    @Test("A metadata value that is not a string is refused at its path", arguments: [
        "1", "true", "null", "[]", "{}", "1.5",
    ])
    func nonStringValue(value: String) throws {
        var fields = try reader(#"{"metadata": {"good": "x", "bad": \#(value)}}"#)
        #expect(fields.metadata() == nil)
        #expect(fields.issues == [issue("metadata.bad", "Metadata values must be strings of at most 500 characters.")])
    }

    @Test("A 500-character value is accepted and a 501-character value is refused")
    func valueLength() throws {
        let fiveHundred = String(repeating: "v", count: 500)
        var ok = try reader(#"{"metadata": {"note": "\#(fiveHundred)"}}"#)
        #expect(ok.metadata() == ["note": fiveHundred])
        var bad = try reader(#"{"metadata": {"note": "\#(fiveHundred)v"}}"#)
        #expect(bad.metadata() == nil)
        #expect(bad.issues == [issue("metadata.note", "Metadata values must be strings of at most 500 characters.")])
    }

    @Test("Every bad metadata entry is reported, not only the first")
    func everyBadEntry() throws {
        var fields = try reader(#"{"metadata": {"a": 1, "b": "ok", "c": false}}"#)
        #expect(fields.metadata() == nil)
        #expect(fields.issues.map(\.path) == ["metadata.a", "metadata.c"])
    }

    @Test("Metadata that is not an object is refused")
    func metadataWrongType() throws {
        var fields = try reader(#"{"metadata": ["a"]}"#)
        #expect(fields.metadata() == nil)
        #expect(fields.issues == [issue("metadata", "Must be an object of string values, not array.")])
    }
}

@Suite("FieldReader: email, phone and url")
struct FieldReaderContactTests {
    @Test("An email address is accepted and lowercased", arguments: [
        ("Dana@Example.CO.IL", "dana@example.co.il"),
        ("  first.last+tag@sub.example.com ", "first.last+tag@sub.example.com"),
        ("a@b.io", "a@b.io"),
    ])
    func emailAccepted(input: String, expected: String) throws {
        var fields = try reader(#"{"email": "\#(input)"}"#)
        #expect(fields.email("email") == expected)
        #expect(fields.issues.isEmpty)
    }

    @Test("Something that is not an email address is refused", arguments: [
        "dana", "dana@", "@example.com", "dana@example", "da na@example.com", "dana@example .com",
        "a@b@example.com", "dana@-example.com", "dana@example-.com", "dana@example..com",
        "dana@.example.com", "<dana@example.com>", "dana@example.com,eve@example.com",
    ])
    func emailRefused(input: String) throws {
        var fields = try reader(#"{"email": "\#(input)"}"#)
        #expect(fields.email("email") == nil)
        #expect(fields.issues == [issue("email", "Must be an email address.")])
    }

    @Test("An email with a local part over 64 characters is refused")
    func emailLocalPartTooLong() {
        #expect(Contact.isEmail(String(repeating: "a", count: 64) + "@example.com"))
        #expect(!Contact.isEmail(String(repeating: "a", count: 65) + "@example.com"))
    }

    @Test("An email over 254 characters is refused as too long")
    func emailTooLong() throws {
        let long = "a@" + String(repeating: "b", count: 248) + ".com"  // 254 characters
        var ok = try reader(#"{"email": "\#(long)"}"#)
        #expect(ok.email("email") == long)
        var bad = try reader(#"{"email": "a\#(long)"}"#)
        #expect(bad.email("email") == nil)
        #expect(bad.issues == [issue("email", "Must be at most 254 characters.")])
    }

    @Test("A phone number is stored in E.164", arguments: [
        ("050-1234567", "+972501234567"),
        ("0501234567", "+972501234567"),
        ("050 123 4567", "+972501234567"),
        ("(050) 123-4567", "+972501234567"),
        ("02-6543210", "+97226543210"),
        ("03.555.1234", "+97235551234"),
        ("+972501234567", "+972501234567"),
        ("+972 50 123 4567", "+972501234567"),
        ("+14155550100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ])
    func phoneToE164(input: String, expected: String) throws {
        var fields = try reader(#"{"phone": "\#(input)"}"#)
        #expect(fields.phone("phone") == expected)
        #expect(fields.issues.isEmpty)
        #expect(Contact.e164Phone(input) == expected)
    }

    @Test("Garbage is not a phone number", arguments: [
        "abc", "12345", "050-12345", "050-12345678", "501234567", "00-1234567", "00972501234567",
        "+0123456789", "+1234567", "+1234567890123456", "+97250-abc-4567", "050-123456a", "+",
    ])
    func phoneRefused(input: String) throws {
        var fields = try reader(#"{"phone": "\#(input)"}"#)
        #expect(fields.phone("phone") == nil)
        #expect(fields.issues == [issue(
            "phone", "Must be an Israeli phone number (050-1234567) or an international one in E.164 (+972501234567).")])
    }

    @Test("A phone field longer than 32 characters is refused as too long")
    func phoneTooLong() throws {
        var fields = try reader(#"{"phone": "050-1234567                           x"}"#)
        #expect(fields.phone("phone") == nil)
        #expect(fields.issues == [issue("phone", "Must be at most 32 characters.")])
    }

    @Test("A URL is judged by scheme, host and spaces", arguments: [
        ("https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}", false, nil),
        ("HTTPS://SHOP.EXAMPLE.COM/", false, nil),
        ("https://example.com#done", false, nil),
        ("http://shop.example.com/thanks", false, "Must be an https:// URL."),
        ("http://shop.example.com/thanks", true, nil),
        ("http://localhost:8080/done", false, nil),
        ("http://localhost/done", false, nil),
        ("http://127.0.0.1:3000/", false, nil),
        ("http://[::1]:3000/done", false, nil),
        ("http://localhost.evil.com/", false, "Must be an https:// URL."),
        ("http://localhost@evil.com/", false, "Must be an https:// URL."),
        ("http://localhost@evil.com/", true, "Must not contain a user name or password."),
        ("javascript:alert(1)", false, "Must be an absolute https:// URL."),
        ("javascript:alert(1)", true, "Must be an absolute https:// URL."),
        ("data:text/html,<script>alert(1)</script>", true, "Must be an absolute https:// URL."),
        ("ftp://example.com/", true, "Must be an absolute https:// URL."),
        ("//example.com/path", false, "Must be an absolute https:// URL."),
        ("/relative/path", false, "Must be an absolute https:// URL."),
        ("https://exa mple.com/", false, "Must be an absolute URL with a host and no spaces."),
        ("https://example.com/a b", false, "Must be an absolute URL with a host and no spaces."),
        ("https://example.com/a\tb", false, "Must be an absolute URL with a host and no spaces."),
        ("https://", false, "Must be an absolute URL with a host and no spaces."),
        ("https:///path", false, "Must be an absolute URL with a host and no spaces."),
        ("https://ex<ample.com/", false, "Must have a valid host name."),
    ] as [(String, Bool, String?)])
    func urlProblems(url: String, allowHTTP: Bool, problem: String?) {
        switch WebAddress.normalized(url, allowHTTP: allowHTTP) {
        case .success: #expect(problem == nil)
        case .failure(let refusal): #expect(refusal.message == problem)
        }
    }

    @Test("isLocalhost recognises only the loopback hosts", arguments: [
        ("http://localhost", true), ("http://localhost:8080/x", true), ("http://127.0.0.1/", true),
        ("http://[::1]/", true), ("http://[::1]:80", true), ("http://example.com/localhost", false),
        ("http://127.0.0.2/", false), ("http://localhost.example.com", false),
    ])
    func isLocalhost(url: String, expected: Bool) {
        #expect(WebAddress.isLocalhost(url) == expected)
    }

    @Test("The url reader returns an accepted URL trimmed and normalized")
    func urlReaderAccepts() throws {
        var fields = try reader(#"{"success_url": "  https://Shop.Example.com/Thanks/caf\u00e9  "}"#)
        #expect(fields.url("success_url", allowHTTP: false) == "https://shop.example.com/Thanks/caf%C3%A9")
        #expect(fields.issues.isEmpty)
    }

    @Test("The url reader reports a refused URL at its path")
    func urlReaderRefuses() throws {
        var fields = try reader(#"{"cancel_url": "javascript:alert(document.cookie)"}"#)
        #expect(fields.url("cancel_url", allowHTTP: true) == nil)
        #expect(fields.issues == [issue("cancel_url", "Must be an absolute https:// URL.")])
    }

    @Test("The url reader refuses plain http unless allowed or local")
    func urlReaderHTTP() throws {
        var fields = try reader(#"{"a": "http://shop.example.com", "b": "http://shop.example.com", "c": "http://localhost:8080"}"#)
        #expect(fields.url("a", allowHTTP: false) == nil)
        #expect(fields.url("b", allowHTTP: true) == "http://shop.example.com")
        #expect(fields.url("c", allowHTTP: false) == "http://localhost:8080")
        #expect(fields.issues == [issue("a", "Must be an https:// URL.")])
    }

    @Test("A URL longer than 2048 characters is refused as too long")
    func urlTooLong() throws {
        let long = "https://example.com/" + String(repeating: "a", count: 2029)
        var fields = try reader(#"{"image_url": "\#(long)"}"#)
        #expect(fields.url("image_url", allowHTTP: false) == nil)
        #expect(fields.issues == [issue("image_url", "Must be at most 2048 characters.")])
    }
}

@Suite("Text helpers")
struct TextHelperTests {
    @Test("trimmingWhitespace removes spaces, tabs and newlines at both ends only", arguments: [
        ("  a b  ", "a b"), ("\n\ta\t\n", "a"), ("", ""), ("   ", ""), ("a", "a"), ("\u{00A0}x\u{00A0}", "x"),
    ])
    func trimming(input: String, expected: String) {
        #expect(input.trimmingWhitespace() == expected)
    }

    @Test("isASCIIDigit is true for 0-9 and false for other characters", arguments: [
        (Character("0"), true), ("5", true), ("9", true), ("a", false), (" ", false), ("٣", false), ("５", false), ("/", false), (":", false),
    ])
    func asciiDigit(character: Character, expected: Bool) {
        #expect(character.isASCIIDigit == expected)
    }

    @Test(
        "A digit followed by a combining mark is not an ASCII digit"
    )
    func digitWithCombiningMark() {
        #expect(!Character("1\u{20E3}").isASCIIDigit)
        #expect(!Character("1\u{301}").isASCIIDigit)
        #expect(Contact.e164Phone("050-123456\u{20E3}7") == nil)
    }
}
