import ChingDomain
import Testing

@Suite("JSONValue parsing")
struct JSONParsingTests {
    @Test("Every kind of JSON value parses to the matching case", arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("\"hello\"", .string("hello")),
        ("\"\"", .string("")),
        ("[]", .array([])),
        ("[1, \"two\", null]", .array([.int(1), .string("two"), .null])),
        ("{}", .object(JSONObject())),
        ("{\"a\": {\"b\": [true]}}", .object(["a": .object(["b": .array([.bool(true)])])])),
        (" \t\r\n 7 \n", .int(7)),
    ] as [(String, JSONValue)])
    func parsesEveryKind(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test("The largest Int64 stays an exact integer")
    func largestInt64IsExact() throws {
        let value = try JSONValue.parse("9223372036854775807")
        #expect(value == .int(Int64.max))
        #expect(value.intValue == 9_223_372_036_854_775_807)
    }

    @Test("The smallest Int64 stays an exact integer")
    func smallestInt64IsExact() throws {
        #expect(try JSONValue.parse("-9223372036854775808") == .int(Int64.min))
    }

    @Test("An integer one past Int64.max becomes a number, not an integer")
    func integerPastInt64BecomesNumber() throws {
        let value = try JSONValue.parse("9223372036854775808")
        #expect(value == .number(9_223_372_036_854_775_808.0))
        #expect(value.intValue == nil)
        #expect(value.typeName == "number")
    }

    @Test("Fractions and exponents are numbers, never integers", arguments: [
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1E+3", 1000.0),
        ("2.0", 2.0),
        ("-0.25e-2", -0.0025),
    ])
    func fractionsAndExponentsAreNumbers(text: String, expected: Double) throws {
        let value = try JSONValue.parse(text)
        #expect(value == .number(expected))
        #expect(value.intValue == nil)
    }

    @Test("Malformed JSON throws with a reason", arguments: [
        ("{\"a\": 1, \"a\": 2}", "duplicate key \"a\""),
        ("[1, 2,]", "unexpected character"),
        ("{\"a\": 1,}", "expected a string key"),
        ("01", "leading zero in number"),
        ("-012", "leading zero in number"),
        ("[00]", "leading zero in number"),
        ("\"abc", "unterminated string"),
        ("\"abc\\", "unterminated escape"),
        ("\"a\u{01}b\"", "control character in string"),
        ("\"line\nbreak\"", "control character in string"),
        ("\"tab\there\"", "control character in string"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\'\"", "invalid escape"),
        ("\"\\u12G4\"", "invalid unicode escape"),
        ("\"\\u12\"", "invalid unicode escape"),
        ("\"\\uD800\"", "unpaired surrogate"),
        ("\"\\uD800x\"", "unpaired surrogate"),
        ("\"\\uD800\\u0041\"", "unpaired surrogate"),
        ("\"\\uDC00\"", "invalid unicode escape"),
        ("{} x", "unexpected data after the JSON value"),
        ("1 2", "unexpected data after the JSON value"),
        ("truex", "unexpected data after the JSON value"),
        ("nul", "invalid literal"),
        ("True", "unexpected character"),
        ("", "unexpected end of input"),
        ("   ", "unexpected end of input"),
        ("[1", "unexpected end of input"),
        ("{\"a\" 1}", "expected ':'"),
        ("{1: 2}", "expected a string key"),
        ("[1 2]", "expected ',' or ']'"),
        ("{\"a\": 1 \"b\": 2}", "expected ',' or '}'"),
        ("-", "invalid number"),
        ("1.", "invalid number"),
        ("1e", "invalid number"),
        (".5", "unexpected character"),
        ("+1", "unexpected character"),
        ("'a'", "unexpected character"),
    ])
    func malformedJSONThrows(text: String, message: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test("A parse error reports the byte offset where it happened", arguments: [
        ("{} x", 3),
        ("[1, 2,]", 6),
        ("{\"a\": 1, \"a\": 2}", 15),  // reported after the duplicate's value
        ("\"abc", 4),
    ])
    func parseErrorOffset(text: String, offset: Int) {
        do {
            _ = try JSONValue.parse(text)
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == offset)
        }
    }

    static func nestedArrays(_ depth: Int) -> String {
        String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    }

    static func nestedObjects(_ depth: Int) -> String {
        String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
    }

    @Test("64 levels of nesting are accepted")
    func sixtyFourLevelsAccepted() throws {
        _ = try JSONValue.parse(Self.nestedArrays(64))
        _ = try JSONValue.parse(Self.nestedObjects(63))
    }

    @Test("Nesting beyond 64 levels throws", arguments: [65, 100, 10_000])
    func deepNestingThrows(depth: Int) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Self.nestedArrays(depth)) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Self.nestedObjects(depth)) }
    }

    @Test("Simple escapes decode to their characters")
    func simpleEscapesDecode() throws {
        #expect(try JSONValue.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
    }

    @Test("\\u escapes decode, in upper and lower case hex")
    func unicodeEscapesDecode() throws {
        #expect(try JSONValue.parse(#""\u0041\u00e9\u05D0\u05e9""#) == .string("Aé\u{5D0}\u{5E9}"))
        #expect(try JSONValue.parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test("A surrogate pair decodes to one astral character")
    func surrogatePairDecodes() throws {
        let value = try JSONValue.parse(#""a\uD83D\uDE00b""#)
        #expect(value == .string("a😀b"))
        #expect(value.stringValue?.unicodeScalars.count == 3)
    }

    @Test("Invalid UTF-8 is refused at the offset of the first bad byte, never replaced with U+FFFD", arguments: [
        ([0x22, 0x61, 0xFF, 0x22], 2),                    // a byte that never appears in UTF-8
        ([0x22, 0xC3, 0x28, 0x22], 1),                    // a lead byte without its continuation
        ([0x22, 0xC0, 0xAF, 0x22], 1),                    // overlong "/"
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1),              // overlong, three bytes
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),              // an encoded surrogate (U+D800)
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),        // past U+10FFFF
        ([0x7B, 0x22, 0x6E, 0x22, 0x3A, 0x22, 0xD7, 0x22, 0x7D], 6),  // a truncated Hebrew letter in a value
        ([0x22, 0x80, 0x22], 1),                          // a lone continuation byte
    ] as [([UInt8], Int)])
    func invalidUTF8IsRefused(bytes: [UInt8], offset: Int) {
        do {
            _ = try JSONValue.parse(bytes)
            Issue.record("parsed invalid UTF-8")
        } catch {
            #expect(error.message == "invalid UTF-8")
            #expect(error.offset == offset)
        }
    }

    @Test("Every valid UTF-8 length parses: ASCII, Hebrew, the euro sign, an emoji")
    func validUTF8Parses() throws {
        #expect(try JSONValue.parse(Array("\"a ש € 😀\"".utf8)) == .string("a ש € 😀"))
    }

    @Test("Raw UTF-8 Hebrew in a string parses unchanged, next to escapes")
    func rawHebrewParses() throws {
        #expect(try JSONValue.parse("\"שלום\\n עולם\"") == .string("שלום\n עולם"))
    }

    @Test("Object keys keep the order in which they were written")
    func keyOrderPreserved() throws {
        let value = try JSONValue.parse(#"{"zeta": 1, "alpha": 2, "mid": 3}"#)
        #expect(value.objectValue?.keys == ["zeta", "alpha", "mid"])
        #expect(value.serialized() == #"{"zeta":1,"alpha":2,"mid":3}"#)
    }

    @Test("Objects with the same entries in another order are not equal")
    func orderMattersForEquality() throws {
        #expect(try JSONValue.parse(#"{"a":1,"b":2}"#) != JSONValue.parse(#"{"b":2,"a":1}"#))
    }

    @Test("The typed accessors return a value only for their own case")
    func accessors() throws {
        let value = try JSONValue.parse(#"{"s":"x","i":3,"a":[1],"b":false,"n":null}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.intValue == 3)
        #expect(value["a"]?.arrayValue == [.int(1)])
        #expect(value["b"]?.boolValue == false)
        #expect(value["n"] == .null)
        #expect(value["missing"] == nil)
        #expect(value["s"]?.intValue == nil)
        #expect(value["i"]?.stringValue == nil)
        #expect(JSONValue.string("x")["s"] == nil)
    }
}

@Suite("JSONObject")
struct JSONObjectTests {
    @Test("Setting an existing key replaces its value in place")
    func replaceKeepsPosition() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = "two"
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["b"] == .string("two"))
    }

    @Test("Setting a key to nil removes it and a new key goes last")
    func removeAndAppend() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["a"] = nil
        object["z"] = true
        #expect(object.keys == ["b", "z"])
        #expect(!object.isEmpty)
        object["b"] = nil
        object["z"] = nil
        #expect(object.isEmpty)
    }

    @Test("strings() writes a dictionary with its keys sorted")
    func stringsSortsKeys() {
        let value = JSONValue.strings(["order": "7", "campaign": "spring", "b": "x"])
        #expect(value.serialized() == #"{"b":"x","campaign":"spring","order":"7"}"#)
    }

    @Test("optional() maps nil to null and a value to its case")
    func optionalHelpers() {
        #expect(JSONValue.optional(nil as String?) == .null)
        #expect(JSONValue.optional("x" as String?) == .string("x"))
        #expect(JSONValue.optional(nil as Int64?) == .null)
        #expect(JSONValue.optional(5 as Int64?) == .int(5))
    }
}

@Suite("JSONValue serialization")
struct JSONSerializationTests {
    @Test("Scalars serialize compactly", arguments: [
        (JSONValue.null, "null"),
        (.bool(true), "true"),
        (.bool(false), "false"),
        (.int(-42), "-42"),
        (.int(Int64.max), "9223372036854775807"),
        (.number(1.5), "1.5"),
        (.number(.infinity), "null"),
        (.number(.nan), "null"),
        (.array([]), "[]"),
        (.object(JSONObject()), "{}"),
        (.array([.int(1), .null, .string("a")]), "[1,null,\"a\"]"),
    ] as [(JSONValue, String)])
    func scalarsSerialize(value: JSONValue, expected: String) {
        #expect(value.serialized() == expected)
    }

    @Test("Quotes and backslashes are escaped")
    func quotesAndBackslashes() {
        #expect(JSONValue.string(#"say "hi" \o/"#).serialized() == #""say \"hi\" \\o/""#)
    }

    @Test("Control characters are escaped, never written raw")
    func controlCharacters() {
        let serialized = JSONValue.string("a\nb\rc\td\u{0}e\u{08}f\u{1F}").serialized()
        #expect(serialized == #""a\nb\rc\td\u0000e\u0008f\u001f""#)
        #expect(!serialized.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test("U+2028 and U+2029 are escaped so the output is safe in a script block")
    func lineSeparators() {
        let serialized = JSONValue.string("a\u{2028}b\u{2029}c").serialized()
        #expect(serialized == #""a\u2028b\u2029c""#)
    }

    @Test("Hebrew is written as UTF-8, not as \\u escapes")
    func hebrewIsUTF8() {
        let serialized = JSONValue.object(["name": "דנה כהן"]).serialized()
        #expect(serialized == "{\"name\":\"דנה כהן\"}")
        #expect(!serialized.contains("\\u"))
        #expect(Array(serialized.utf8) == Array("{\"name\":\"דנה כהן\"}".utf8))
    }

    @Test("Escaped object keys serialize like strings")
    func keysAreEscaped() {
        let object: JSONObject = ["a\"b": 1, "line\nkey": 2]
        #expect(JSONValue.object(object).serialized() == #"{"a\"b":1,"line\nkey":2}"#)
    }

    @Test("Parsing what was serialized gives back the same nested value")
    func roundTrip() throws {
        let value: JSONValue = .object([
            "id": "ch_AbC-12_xyz9",
            "amount": .int(Int64.max),
            "negative": .int(Int64.min),
            "ratio": .number(0.18),
            "flags": .array([true, false, .null]),
            "text": .string("quote \" slash \\ nl \n tab \t nul \u{0} sep \u{2028}\u{2029} emoji 😀 שלום"),
            "nested": .object([
                "z": .array([.array([.object(["deep": "yes"])]), .array([])]),
                "a": .object(JSONObject()),
            ]),
        ])
        let serialized = value.serialized()
        #expect(try JSONValue.parse(serialized) == value)
        #expect(try JSONValue.parse(serialized).serialized() == serialized)
    }

    @Test("write(into:) appends to what is already there")
    func writeAppends() {
        var output = "prefix:"
        JSONValue.array([1, 2]).write(into: &output)
        #expect(output == "prefix:[1,2]")
    }
}
