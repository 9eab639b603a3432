/// Parses the subset of YAML that ektpd's config and scenario files use.
///
/// Supported: block mappings and lists (indented with spaces), `- key: value` list items, one-line
/// flow lists `[a, b]` and mappings `{a: 1}`, plain, 'single' and "double" quoted scalars, `#`
/// comments, a leading `---`. Refused with a clear error rather than misread: tabs in indentation,
/// anchors and aliases, tags, block scalars (`|`, `>`), several documents, duplicate keys.
/// Small and strict on purpose: it keeps the daemon free of Foundation and every error names its line.
public enum YAMLParser {
    /// Text as a Windows editor may save it, read like Unix text: a leading UTF-8 byte-order mark
    /// dropped and CRLF (or a lone CR) line ends made LF. YAML 1.2 allows both (its §5.2 and §5.4);
    /// field case 05: a CRLF config was refused as "station: required field is missing".
    public static func plainText(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        guard scalars.contains("\r") else { return String(scalars) }
        var out = String.UnicodeScalarView()
        var previousCR = false
        for u in scalars {
            if u == "\r" { out.append("\n"); previousCR = true; continue }
            if u == "\n" && previousCR { previousCR = false; continue }
            previousCR = false
            out.append(u)
        }
        return String(out)
    }

    public static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode {
        var lines = try splitLines(plainText(text))
        if lines.isEmpty { return YAMLNode(.null, YAMLMark(line: 1, column: 1)) }
        var p = Cursor(lines: lines, index: 0)
        let first = p.lines[0]
        let node = try parseBlock(&p, indent: first.indent)
        if p.index < p.lines.count {
            let l = p.lines[p.index]
            throw YAMLSyntaxError(l.mark, l.indent > first.indent
                ? "unexpected indentation"
                : "unexpected content at the top level (is an earlier line indented wrongly?)")
        }
        lines.removeAll()
        return node
    }

    struct Line {
        var number: Int
        var indent: Int
        var text: Substring  // without indentation and trailing comment/space
        var mark: YAMLMark { YAMLMark(line: number, column: indent + 1) }
    }

    struct Cursor {
        var lines: [Line]
        var index: Int
        var current: Line? { index < lines.count ? lines[index] : nil }
    }

    static func splitLines(_ text: String) throws(YAMLSyntaxError) -> [Line] {
        var out: [Line] = []
        var number = 0
        var sawDocument = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = raw
            if line.last == "\r" { line = line.dropLast() }
            var indent = 0
            var idx = line.startIndex
            while idx < line.endIndex {
                if line[idx] == " " { indent += 1 } else if line[idx] == "\t" {
                    throw YAMLSyntaxError(YAMLMark(line: number, column: indent + 1), "tab in indentation: indent with spaces")
                } else { break }
                idx = line.index(after: idx)
            }
            var body = stripComment(line[idx...])
            while let l = body.last, l == " " || l == "\t" { body = body.dropLast() }
            if body.isEmpty { continue }
            if indent == 0 && (body == "---" || body.hasPrefix("--- ")) {
                if sawDocument || !out.isEmpty {
                    throw YAMLSyntaxError(YAMLMark(line: number, column: 1), "only one YAML document per file is supported")
                }
                sawDocument = true
                continue
            }
            if indent == 0 && body == "..." { continue }
            out.append(Line(number: number, indent: indent, text: body))
        }
        return out
    }

    /// Drops a `#` comment that starts the text or follows a space, outside quotes.
    static func stripComment(_ s: Substring) -> Substring {
        var inSingle = false, inDouble = false
        var prev: Character = " "
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if inDouble {
                if c == "\\" { i = s.index(after: i); if i < s.endIndex { prev = s[i]; i = s.index(after: i) }; continue }
                if c == "\"" { inDouble = false }
            } else if inSingle {
                if c == "'" { inSingle = false }
            } else if c == "#" && (prev == " " || prev == "\t") {
                return s[s.startIndex..<i]
            } else if c == "\"" && (prev == " " || prev == ":" || prev == "[" || prev == "{" || prev == "," || prev == "-") {
                inDouble = true
            } else if c == "'" && (prev == " " || prev == ":" || prev == "[" || prev == "{" || prev == "," || prev == "-") {
                inSingle = true
            }
            prev = c
            i = s.index(after: i)
        }
        return s
    }

    static func isListItem(_ t: Substring) -> Bool { t == "-" || t.hasPrefix("- ") }

    static func parseBlock(_ p: inout Cursor, indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        guard let line = p.current else { return YAMLNode(.null, YAMLMark(line: 1, column: 1)) }
        if isListItem(line.text) { return try parseSequence(&p, indent: indent) }
        if findMappingColon(line.text) != nil { return try parseMapping(&p, indent: indent) }
        // A lone scalar (a whole-document scalar, or a value on its own line under a key).
        p.index += 1
        let node = try parseInline(line.text, line.mark)
        if let next = p.current, next.indent > line.indent {
            throw YAMLSyntaxError(next.mark, "unexpected indentation (multi-line values are not supported)")
        }
        return node
    }

    static func parseSequence(_ p: inout Cursor, indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let startMark = p.lines[p.index].mark
        var items: [YAMLNode] = []
        while let line = p.current, line.indent == indent, isListItem(line.text) {
            let rest = line.text.dropFirst(1).drop(while: { $0 == " " })
            if rest.isEmpty {
                p.index += 1
                if let next = p.current, next.indent > indent {
                    items.append(try parseBlock(&p, indent: next.indent))
                } else {
                    items.append(YAMLNode(.null, line.mark))
                }
                continue
            }
            // "- key: value" or "- - x": the rest becomes a virtual line at its own column.
            let offset = line.text.count - rest.count
            let childIndent = indent + offset
            if isListItem(rest) || findMappingColon(rest) != nil {
                p.lines[p.index] = Line(number: line.number, indent: childIndent, text: rest)
                items.append(try parseBlock(&p, indent: childIndent))
            } else {
                p.index += 1
                items.append(try parseInline(rest, YAMLMark(line: line.number, column: childIndent + 1)))
                if let next = p.current, next.indent > indent {
                    throw YAMLSyntaxError(next.mark, "unexpected indentation after a list item")
                }
            }
        }
        if let line = p.current, line.indent > indent {
            throw YAMLSyntaxError(line.mark, "unexpected indentation in a list")
        }
        return YAMLNode(.sequence(items), startMark)
    }

    static func parseMapping(_ p: inout Cursor, indent: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let startMark = p.lines[p.index].mark
        var entries: [(key: String, keyMark: YAMLMark, value: YAMLNode)] = []
        while let line = p.current, line.indent == indent {
            if isListItem(line.text) {
                throw YAMLSyntaxError(line.mark, "a list item where a 'key: value' line was expected")
            }
            guard let colon = findMappingColon(line.text) else {
                throw YAMLSyntaxError(line.mark, "expected 'key: value', found '\(line.text)'")
            }
            let rawKey = line.text[line.text.startIndex..<colon]
            let key = try scalarText(rawKey.trimmingTrailingSpaces(), line.mark).text
            if key.isEmpty { throw YAMLSyntaxError(line.mark, "empty key") }
            if entries.contains(where: { $0.key == key }) {
                throw YAMLSyntaxError(line.mark, "duplicate key '\(key)'")
            }
            let afterColon = line.text[line.text.index(after: colon)...]
            let rest = afterColon.drop(while: { $0 == " " })
            let valueColumn = indent + (line.text.count - rest.count) + 1
            p.index += 1
            let value: YAMLNode
            if rest.isEmpty {
                if let next = p.current, next.indent > indent {
                    value = try parseBlock(&p, indent: next.indent)
                } else if let next = p.current, next.indent == indent, isListItem(next.text) {
                    value = try parseSequence(&p, indent: indent)  // "key:\n- a" at the same indent
                } else {
                    value = YAMLNode(.null, YAMLMark(line: line.number, column: valueColumn))
                }
            } else {
                value = try parseInline(rest, YAMLMark(line: line.number, column: valueColumn))
                if let next = p.current, next.indent > indent {
                    throw YAMLSyntaxError(next.mark, "unexpected indentation: '\(key)' already has a value on line \(line.number)")
                }
            }
            entries.append((key, line.mark, value))
        }
        if let line = p.current, line.indent > indent {
            throw YAMLSyntaxError(line.mark, "unexpected indentation")
        }
        return YAMLNode(.mapping(entries), startMark)
    }

    /// The index of the colon that ends a mapping key: followed by a space or the end, outside quotes
    /// and outside flow brackets.
    static func findMappingColon(_ t: Substring) -> Substring.Index? {
        guard let first = t.first, first != "[", first != "{" else { return nil }
        var i = t.startIndex
        if first == "\"" || first == "'" {
            // quoted key: skip to its closing quote
            i = t.index(after: i)
            while i < t.endIndex {
                if t[i] == "\\" && first == "\"" { i = t.index(after: i); if i < t.endIndex { i = t.index(after: i) }; continue }
                if t[i] == first { break }
                i = t.index(after: i)
            }
            guard i < t.endIndex else { return nil }
            i = t.index(after: i)
        }
        while i < t.endIndex {
            if t[i] == ":" {
                let n = t.index(after: i)
                if n == t.endIndex || t[n] == " " { return i }
            }
            i = t.index(after: i)
        }
        return nil
    }

    static func parseInline(_ text: Substring, _ mark: YAMLMark) throws(YAMLSyntaxError) -> YAMLNode {
        if let f = text.first, f == "[" || f == "{" {
            var fp = FlowParser(chars: Array(text), pos: 0, mark: mark)
            let node = try fp.parseValue()
            fp.skipSpaces()
            if fp.pos != fp.chars.count {
                throw YAMLSyntaxError(fp.markHere, "unexpected '\(String(fp.chars[fp.pos...]))' after a flow collection (flow collections must fit on one line)")
            }
            return node
        }
        let s = try scalarText(text, mark)
        if !s.quoted, s.text == "~" || s.text == "null" || s.text == "Null" || s.text == "NULL" {
            return YAMLNode(.null, mark)
        }
        return YAMLNode(.scalar(s.text, quoted: s.quoted), mark)
    }

    static func scalarText(_ t: Substring, _ mark: YAMLMark) throws(YAMLSyntaxError) -> (text: String, quoted: Bool) {
        guard let f = t.first else { return ("", false) }
        switch f {
        case "\"":
            var out = ""
            var i = t.index(after: t.startIndex)
            while i < t.endIndex {
                let c = t[i]
                if c == "\"" {
                    guard t.index(after: i) == t.endIndex else {
                        throw YAMLSyntaxError(mark, "text after the closing quote")
                    }
                    return (out, true)
                }
                if c == "\\" {
                    i = t.index(after: i)
                    guard i < t.endIndex else { break }
                    switch t[i] {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "\\": out.append("\\")
                    case "\"": out.append("\"")
                    case "/": out.append("/")
                    case "0": out.append("\0")
                    case "u":
                        let hexStart = t.index(after: i)
                        guard let hexEnd = t.index(hexStart, offsetBy: 4, limitedBy: t.endIndex),
                              let v = UInt32(t[hexStart..<hexEnd], radix: 16), let u = Unicode.Scalar(v)
                        else { throw YAMLSyntaxError(mark, "bad \\u escape in a quoted string") }
                        out.unicodeScalars.append(u)
                        i = t.index(before: hexEnd)
                    default: throw YAMLSyntaxError(mark, "unknown escape '\\\(t[i])' in a quoted string")
                    }
                } else {
                    out.append(c)
                }
                i = t.index(after: i)
            }
            throw YAMLSyntaxError(mark, "unterminated double-quoted string")
        case "'":
            var out = ""
            var i = t.index(after: t.startIndex)
            while i < t.endIndex {
                let c = t[i]
                if c == "'" {
                    let n = t.index(after: i)
                    if n < t.endIndex, t[n] == "'" { out.append("'"); i = t.index(after: n); continue }
                    guard n == t.endIndex else { throw YAMLSyntaxError(mark, "text after the closing quote") }
                    return (out, true)
                }
                out.append(c)
                i = t.index(after: i)
            }
            throw YAMLSyntaxError(mark, "unterminated single-quoted string")
        case "&": throw YAMLSyntaxError(mark, "anchors (&) are not supported: write the value out")
        case "*": throw YAMLSyntaxError(mark, "aliases (*) are not supported: write the value out")
        case "!": throw YAMLSyntaxError(mark, "tags (!) are not supported")
        case "|", ">": throw YAMLSyntaxError(mark, "block scalars (| and >) are not supported: use a quoted string")
        case "@", "`": throw YAMLSyntaxError(mark, "a plain value cannot start with '\(f)': quote it")
        case "?": throw YAMLSyntaxError(mark, "complex keys (?) are not supported")
        default:
            return (String(t), false)
        }
    }
}

/// One-line flow collections: `[a, "b", {c: 1}]`.
struct FlowParser {
    var chars: [Character]
    var pos: Int
    var mark: YAMLMark
    var depth = 0

    var markHere: YAMLMark { YAMLMark(line: mark.line, column: mark.column + pos) }

    mutating func skipSpaces() { while pos < chars.count, chars[pos] == " " { pos += 1 } }

    mutating func parseValue() throws(YAMLSyntaxError) -> YAMLNode {
        skipSpaces()
        guard pos < chars.count else { throw YAMLSyntaxError(markHere, "missing value in a flow collection") }
        let here = markHere
        depth += 1
        defer { depth -= 1 }
        if depth > 32 { throw YAMLSyntaxError(here, "flow collections nested too deeply") }
        if chars[pos] == "[" {
            pos += 1
            var items: [YAMLNode] = []
            skipSpaces()
            if pos < chars.count, chars[pos] == "]" { pos += 1; return YAMLNode(.sequence(items), here) }
            while true {
                items.append(try parseValue())
                skipSpaces()
                guard pos < chars.count else { throw YAMLSyntaxError(here, "unterminated '[' (flow collections must fit on one line)") }
                if chars[pos] == "," { pos += 1; continue }
                if chars[pos] == "]" { pos += 1; return YAMLNode(.sequence(items), here) }
                throw YAMLSyntaxError(markHere, "expected ',' or ']' in a flow list")
            }
        }
        if chars[pos] == "{" {
            pos += 1
            var entries: [(key: String, keyMark: YAMLMark, value: YAMLNode)] = []
            skipSpaces()
            if pos < chars.count, chars[pos] == "}" { pos += 1; return YAMLNode(.mapping(entries), here) }
            while true {
                skipSpaces()
                let keyMark = markHere
                let key = try scalarToken(stopAtColon: true)
                skipSpaces()
                guard pos < chars.count, chars[pos] == ":" else { throw YAMLSyntaxError(markHere, "expected ':' after key '\(key.text)'") }
                pos += 1
                if entries.contains(where: { $0.key == key.text }) { throw YAMLSyntaxError(keyMark, "duplicate key '\(key.text)'") }
                entries.append((key.text, keyMark, try parseValue()))
                skipSpaces()
                guard pos < chars.count else { throw YAMLSyntaxError(here, "unterminated '{' (flow collections must fit on one line)") }
                if chars[pos] == "," { pos += 1; continue }
                if chars[pos] == "}" { pos += 1; return YAMLNode(.mapping(entries), here) }
                throw YAMLSyntaxError(markHere, "expected ',' or '}' in a flow mapping")
            }
        }
        let tok = try scalarToken(stopAtColon: false)
        if !tok.quoted && (tok.text == "~" || tok.text == "null") { return YAMLNode(.null, here) }
        return YAMLNode(.scalar(tok.text, quoted: tok.quoted), here)
    }

    mutating func scalarToken(stopAtColon: Bool) throws(YAMLSyntaxError) -> (text: String, quoted: Bool) {
        let here = markHere
        guard pos < chars.count else { throw YAMLSyntaxError(here, "missing value") }
        if chars[pos] == "\"" || chars[pos] == "'" {
            let q = chars[pos]
            var end = pos + 1
            while end < chars.count {
                if chars[end] == "\\" && q == "\"" { end += 2; continue }
                if chars[end] == q {
                    if q == "'" && end + 1 < chars.count && chars[end + 1] == "'" { end += 2; continue }
                    break
                }
                end += 1
            }
            guard end < chars.count else { throw YAMLSyntaxError(here, "unterminated quoted string") }
            let s = try YAMLParser.scalarText(Substring(String(chars[pos...end])), here)
            pos = end + 1
            return s
        }
        var end = pos
        while end < chars.count, chars[end] != ",", chars[end] != "]", chars[end] != "}",
              !(stopAtColon && chars[end] == ":") {
            if chars[end] == "[" || chars[end] == "{" { throw YAMLSyntaxError(markHere, "unexpected '\(chars[end])'") }
            end += 1
        }
        var text = String(chars[pos..<end])
        while text.last == " " { text.removeLast() }
        if text.isEmpty { throw YAMLSyntaxError(here, "missing value in a flow collection") }
        pos = end
        return try YAMLParser.scalarText(Substring(text), here)
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> Substring {
        var s = self
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
