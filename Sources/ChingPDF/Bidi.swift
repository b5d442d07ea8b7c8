/// A small subset of the Unicode Bidirectional Algorithm (UAX #9), enough for one line of
/// Hebrew, Latin, numbers and punctuation without explicit embedding controls.
///
/// PDF draws glyphs left to right, so text is converted from logical (typed) order to
/// visual (left-to-right display) order before it is written.
enum Bidi {
    enum Direction: Sendable {
        case leftToRight, rightToLeft
    }

    /// Simplified bidi character classes.
    private enum CharacterClass {
        case left, right, europeanNumber, europeanSeparator, europeanTerminator, commonSeparator, whitespace, otherNeutral
    }

    static func isRightToLeft(_ scalar: Unicode.Scalar) -> Bool {
        (0x0590 ... 0x05FF).contains(scalar.value) || (0xFB1D ... 0xFB4F).contains(scalar.value)
    }

    /// The direction of the first strong character; left-to-right when there is none.
    static func baseDirection(of text: String) -> Direction {
        for scalar in text.unicodeScalars {
            switch characterClass(of: scalar) {
            case .right: return .rightToLeft
            case .left: return .leftToRight
            default: continue
            }
        }
        return .leftToRight
    }

    /// The characters of one line in the order they must be drawn from left to right.
    static func visualOrder(_ text: String, base: Direction? = nil) -> [Unicode.Scalar] {
        let scalars = Array(text.unicodeScalars)
        let direction = base ?? baseDirection(of: text)
        let levels = embeddingLevels(of: scalars, base: direction)
        guard let highest = levels.max(), highest > 0 else { return scalars }

        // Rule L2: from the highest level down to the lowest odd level, reverse every run at or above it.
        var order = Array(scalars.indices)
        for level in stride(from: highest, through: 1, by: -1) {
            var start = 0
            while start < order.count {
                guard levels[order[start]] >= level else { start += 1; continue }
                var end = start
                while end < order.count, levels[order[end]] >= level { end += 1 }
                order[start ..< end].reverse()
                start = end
            }
        }
        // Rule L4: characters shown right to left use their mirrored form, e.g. "(" becomes ")".
        return order.map { levels[$0] % 2 == 1 ? mirrored(scalars[$0]) : scalars[$0] }
    }

    private static func embeddingLevels(of scalars: [Unicode.Scalar], base: Direction) -> [Int] {
        var classes = scalars.map(characterClass(of:))
        let baseClass: CharacterClass = base == .rightToLeft ? .right : .left

        // W4: a single separator between two numbers joins them ("1,000", "2026-04-19").
        for index in classes.indices.dropFirst().dropLast()
        where classes[index - 1] == .europeanNumber && classes[index + 1] == .europeanNumber
            && (classes[index] == .commonSeparator || classes[index] == .europeanSeparator) {
            classes[index] = .europeanNumber
        }
        // W5: currency signs and percent next to a number belong to it ("₪99.00", "18%").
        for index in classes.indices where classes[index] == .europeanNumber {
            var before = index - 1
            while before >= 0, classes[before] == .europeanTerminator {
                classes[before] = .europeanNumber
                before -= 1
            }
            var after = index + 1
            while after < classes.count, classes[after] == .europeanTerminator {
                classes[after] = .europeanNumber
                after += 1
            }
        }
        // W6: remaining separators and terminators are neutral.
        for index in classes.indices
        where [.commonSeparator, .europeanSeparator, .europeanTerminator].contains(classes[index]) {
            classes[index] = .otherNeutral
        }
        // W7: numbers after left-to-right text (or at the start of a left-to-right line) are left-to-right.
        var lastStrong = baseClass
        for index in classes.indices {
            switch classes[index] {
            case .left, .right: lastStrong = classes[index]
            case .europeanNumber where lastStrong == .left: classes[index] = .left
            default: break
            }
        }
        // N1/N2: neutrals between two characters of the same direction take that direction
        // (numbers count as right-to-left here); otherwise they take the base direction.
        func strongDirection(_ characterClass: CharacterClass) -> CharacterClass? {
            switch characterClass {
            case .left: .left
            case .right, .europeanNumber: .right
            default: nil
            }
        }
        var index = 0
        while index < classes.count {
            guard strongDirection(classes[index]) == nil else { index += 1; continue }
            var end = index
            while end < classes.count, strongDirection(classes[end]) == nil { end += 1 }
            let before = index > 0 ? strongDirection(classes[index - 1]) ?? baseClass : baseClass
            let after = end < classes.count ? strongDirection(classes[end]) ?? baseClass : baseClass
            let resolved = before == after ? before : baseClass
            for neutral in index ..< end { classes[neutral] = resolved }
            index = end
        }

        let baseLevel = base == .rightToLeft ? 1 : 0
        // I1/I2: right-to-left text is odd; left-to-right text and numbers inside it are one level higher.
        var levels = classes.map { characterClass -> Int in
            switch characterClass {
            case .right: 1
            case .europeanNumber: 2
            default: baseLevel == 0 ? 0 : 2
            }
        }
        // L1: trailing whitespace goes back to the base level.
        var trailing = scalars.count - 1
        while trailing >= 0, characterClass(of: scalars[trailing]) == .whitespace {
            levels[trailing] = baseLevel
            trailing -= 1
        }
        return levels
    }

    private static func characterClass(of scalar: Unicode.Scalar) -> CharacterClass {
        if isRightToLeft(scalar) { return .right }
        switch scalar.value {
        case 0x30 ... 0x39: return .europeanNumber
        case 0x2B, 0x2D, 0x2212: return .europeanSeparator  // + - −
        case 0x23, 0x24, 0x25, 0xA2 ... 0xA5, 0xB0, 0x2030, 0x20A0 ... 0x20CF: return .europeanTerminator  // # $ % ¢ £ ¤ ¥ ° ‰ ₪ €
        case 0x2C, 0x2E, 0x2F, 0x3A, 0xA0: return .commonSeparator  // , . / : no-break space
        case 0x09, 0x20, 0x2000 ... 0x200A: return .whitespace
        default: break
        }
        return scalar.properties.isAlphabetic ? .left : .otherNeutral
    }

    private static func mirrored(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar {
        case "(": ")"
        case ")": "("
        case "[": "]"
        case "]": "["
        case "{": "}"
        case "}": "{"
        case "<": ">"
        case ">": "<"
        case "«": "»"
        case "»": "«"
        default: scalar
        }
    }
}
