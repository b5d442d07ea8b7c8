import ChingGrow
import ChingDomain
import Testing

/// Grow's wire format as GROW.md sections 1.3–1.4 describe it: our agorot as its shekels, and
/// every shape of its envelope read the same way.
@Suite struct GrowWireTests {
    @Test func agorotBecomeShekelsWithTwoDecimalsAndBack() {
        #expect(GrowWire.shekels(1099) == "10.99")
        #expect(GrowWire.shekels(6700) == "67.00")
        #expect(GrowWire.shekels(5) == "0.05")
        #expect(GrowWire.agorot(.string("67")) == 6700)
        #expect(GrowWire.agorot(.string("16.5")) == 1650)
        #expect(GrowWire.agorot(.string("10.99")) == 1099)
        #expect(GrowWire.agorot(.int(269)) == 26900)
        #expect(GrowWire.agorot(.number(16.5)) == 1650)
        for bad in ["", "1.234", "-1", "1e3", "ten", "1.", "99999999999999999999"] {
            #expect(GrowWire.agorot(.string(bad)) == nil, "\(bad)")
        }
    }

    @Test func theEnvelopeIsReadWhateverTheShapeOfStatusAndErr() {
        func answer(_ text: String, status: Int = 200) -> GrowWire.Answer { GrowWire.answer(status: status, body: Array(text.utf8)) }
        #expect(answer(#"{"status":1,"err":"","data":{"processId":5}}"#) == .success(["processId": 5]))
        #expect(answer(#"{"status":"1","err":"","data":""}"#) == .success(JSONObject()))
        #expect(answer(#"{"status":0,"err":{"id":54,"message":"חסרים נתונים:pageCode"},"data":""}"#) == .failure(id: 54, message: "חסרים נתונים:pageCode"))
        #expect(answer(#"{"status":"0","err":{"id":"1010","message":"x"},"data":""}"#) == .failure(id: 1010, message: "x"))
        #expect(answer(#"{"status":"0","err":{"id":{"id":170,"content":"x"}},"data":""}"#) == .failure(id: 170, message: ""))
        #expect(answer(#"{"err":"unknown method","status":"0","data":{"message":"מתודה לא קיימת"}}"#) == .failure(id: 0, message: "unknown method"))
        // Anything else is not an answer: the call's outcome is unknown.
        #expect(answer("<html>502</html>", status: 502) == .unknown("HTTP 502"))
        #expect(answer("Internal Server Error") == .unknown("not JSON"))
        #expect(answer(#"{"data":{}}"#) == .unknown("no status"))
    }

    @Test func formFieldsAreEncodedAsGrowReadsThem() {
        let body = GrowWire.formBody([("pageField[fullName]", "טל לוי"), ("sum", "10.99"), ("successUrl", "https://x.test/r?process=gpr_1")])
        #expect(body == "pageField%5BfullName%5D=%D7%98%D7%9C+%D7%9C%D7%95%D7%99&sum=10.99&successUrl=https%3A%2F%2Fx.test%2Fr%3Fprocess%3Dgpr_1")
        #expect(GrowWire.formFields(body).map(\.1) == ["טל לוי", "10.99", "https://x.test/r?process=gpr_1"])
        #expect(GrowWire.plain("Café & Co. <b>beans</b>!") == "Café Co b beans b")
    }
}
