//! The libraries' tests: each snippet's answer as Redis 7.0 gave it
//! (kept apart from the libraries so no library file depends on them).

#![cfg(test)]
pub(crate) mod testing {
    use mlua::{Lua, Value};

    /// The Lua prepended to each snippet, byte for byte as sent to Redis
    /// (positions in error messages, "user_script:27:", depend on it).
    /// `run` calls the snippet under `pcall` and renders what it returned
    /// ("count: value | value ..."), with strings escaped to ASCII and
    /// tables listed in `pairs` order.
    const PRELUDE: &str = r#"local function ser(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == 'string' then
    return '"' .. (v:gsub('[^%w %.,:;!%-_%[%]{}()<>=+*/&|^~@#$%%?\']', function(c) return string.format('\\%03d', c:byte()) end)) .. '"'
  elseif t == 'number' then return string.format('%.17g', v)
  elseif t == 'table' then
    if depth > 20 then return '{...}' end
    local parts = {}
    for k, val in pairs(v) do parts[#parts+1] = '[' .. ser(k, depth+1) .. ']=' .. ser(val, depth+1) end
    return '{' .. table.concat(parts, ',') .. '}'
  elseif t == 'userdata' then
    if v == cjson.null then return 'NULL' end
    return 'userdata'
  else return t == 'function' and 'function' or tostring(v) end
end
local function pack(...) return {n = select('#', ...), ...} end
local function run(f)
  local r = pack(pcall(f))
  local parts = {}
  for i = 1, r.n do parts[#parts+1] = ser(r[i]) end
  return r.n .. ': ' .. table.concat(parts, ' | ')
end
local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local function nest(n, open, close) return string.rep(open, n) .. string.rep(close, n) end
"#;

    /// Runs `snippet` (the body of a function) in a fresh interpreter with
    /// the libraries loaded, named as Redis names scripts.
    pub(crate) fn run(snippet: &str) -> String {
        let lua = Lua::new();
        crate::lua::libs::load(&lua).expect("load the libraries");
        let script = format!("{PRELUDE}\nreturn run(function() {snippet}\nend)");
        match lua
            .load(script.as_bytes())
            .set_name("@user_script")
            .eval::<Value>()
        {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            Ok(v) => format!("not a string: {v:?}"),
            Err(e) => format!("script failed: {e}"),
        }
    }

    /// Runs each snippet and compares with Redis's answer; reports all
    /// mismatches at once.
    pub(crate) fn check_cases(cases: &[(&str, &str)]) {
        let mut failures = Vec::new();
        for (snippet, expected) in cases {
            let got = run(snippet);
            if got != *expected {
                failures.push(format!(
                    "snippet:  {snippet}\nexpected: {expected}\ngot:      {got}\n"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} snippets differ from Redis:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

mod bit {
    use super::testing::{check_cases, run};

    #[test]
    fn minimal_bitop_functionality() {
        // scripting.tcl "EVAL - Verify minimal bitop functionality".
        assert_eq!(
            run(
                r#"assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); assert(bit.bxor(1,2) == 3); assert(bit.bor(1,2,4,8,16,32,64,128) == 255)"#
            ),
            "1: true"
        );
    }

    #[test]
    fn numerical_sanity_check_from_bitop() {
        // scripting.tcl "EVAL - Numerical sanity check from bitop".
        assert_eq!(
            run(
                r#"assert(0x7fffffff == 2147483647, "broken hex literals"); assert(0xffffffff == -1 or 0xffffffff == 2^32-1, "broken hex literals"); assert(tostring(-1) == "-1", "broken tostring()"); assert(tostring(0xffffffff) == "-1" or tostring(0xffffffff) == "4294967295", "broken tostring()")"#
            ),
            "1: true"
        );
    }

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (
            r#"local ks = {}; for k, v in pairs(bit) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "band,rshift,bor,bnot,bswap,bxor,tobit,ror,lshift,tohex,rol,arshift""#,
        ),
        (
            r#"return bit.tobit(2^32+1), bit.tobit(2^31), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(0.5), bit.tobit(-0.5), bit.tobit(-1.5), bit.tobit(2^52), bit.tobit(2^52+1), bit.tobit(2^53+2), bit.tobit(2^60+3), bit.tobit(-2^60-3)"#,
            r#"14: true | 1 | -2147483648 | -1 | 2 | 2 | 0 | 0 | -2 | 0 | 0 | 1 | 0 | 0"#,
        ),
        (
            r#"return bit.tobit('10'), bit.tobit('0x10'), bit.tobit(' 12 '), bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0), bit.tobit(1e300)"#,
            r#"8: true | 10 | 16 | 12 | 0 | 0 | 0 | -2013235812"#,
        ),
        (
            r#"return bit.tobit('x')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got string)""#,
        ),
        (
            r#"return bit.tobit()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got no value)""#,
        ),
        (
            r#"return bit.tobit(nil)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got nil)""#,
        ),
        (
            r#"return bit.tobit({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tobit' (number expected, got table)""#,
        ),
        (
            r#"return bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(255, 10), bit.tohex(255, 0), bit.tohex(0x12345678, 3), bit.tohex(0x12345678, -8), bit.tohex(1, 2^32+2)"#,
            r#"10: true | "000000ff" | "ffffffff" | "ff" | "00FF" | "000000ff" | "" | "678" | "12345678" | "01""#,
        ),
        (
            r#"return bit.tohex(255, nil)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'tohex' (number expected, got nil)""#,
        ),
        (
            r#"return bit.tohex()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'tohex' (number expected, got no value)""#,
        ),
        (
            r#"return bit.bnot(0), bit.bnot(-1), bit.bnot(0x12345678)"#,
            r#"4: true | -1 | 0 | -305419897"#,
        ),
        (
            r#"return bit.band(0xff, 0x0f), bit.band(-1, 0x80000000), bit.bor(), bit.bxor(1,2,3)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'bor' (number expected, got no value)""#,
        ),
        (
            r#"return bit.bor()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'bor' (number expected, got no value)""#,
        ),
        (
            r#"return bit.band(0xff, 'x', 'y')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'band' (number expected, got string)""#,
        ),
        (
            r#"return bit.band('x', 'y')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'band' (number expected, got string)""#,
        ),
        (
            r#"return bit.band(1, 'a')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'band' (number expected, got string)""#,
        ),
        (
            r#"return bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, -1), bit.lshift(1, 33), bit.rshift(-1, 28), bit.rshift(-1, 0), bit.arshift(-256, 4), bit.arshift(0x80000000, 31), bit.arshift(256, 4)"#,
            r#"10: true | -2147483648 | 1 | -2147483648 | 2 | 15 | -1 | -16 | -1 | 16"#,
        ),
        (
            r#"return bit.rol(0x12345678, 4), bit.ror(0x12345678, 4), bit.bswap(0x12345678), bit.rol(1, 0), bit.ror(1, 32), bit.rol(0x80000000, 1), bit.ror(1, 1), bit.rol(1, -1)"#,
            r#"9: true | 591751041 | -2128394905 | 2018915346 | 1 | 1 | 1 | -2147483648 | -2147483648"#,
        ),
        (
            r#"return bit.lshift(1)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'lshift' (number expected, got no value)""#,
        ),
        (
            r#"return bit.lshift()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'lshift' (number expected, got no value)""#,
        ),
        (
            r#"return bit.rol('a', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'rol' (number expected, got string)""#,
        ),
        (
            r#"return bit.bswap(-1), bit.bswap(0xff)"#,
            r#"3: true | -1 | -16777216"#,
        ),
        (
            r#"return bit.tobit(1, 2, 3), bit.bnot(1, 'x')"#,
            r#"3: true | 1 | -2"#,
        ),
        (
            r#"return bit.bor(1, 2, 4, 8, 16, 32, 64, 128)"#,
            r#"2: true | 255"#,
        ),
        (
            r#"local t = {}; for i = 1, 100 do t[i] = 2^(i % 32) end; return bit.bor(unpack(t))"#,
            r#"2: true | -1"#,
        ),
        (
            r#"return bit.tohex(-1, -2147483647), bit.tohex(15, -1)"#,
            r#"3: true | "FFFFFFFF" | "F""#,
        ),
        (
            r#"return bit.band(unpack({1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,'x',1}))"#,
            r#"2: false | "user_script:27: bad argument #35 to 'band' (number expected, got string)""#,
        ),
    ];
}

mod cjson {
    use super::testing::{check_cases, run};
    use crate::lua::libs::cjson::format_g;

    #[test]
    fn json_numeric_decoding() {
        // scripting.tcl "EVAL - JSON numeric decoding".
        assert_eq!(
            run(
                r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#
            ),
            r#"2: true | "0 -5000 -1 0.0003 1023.2 0""#
        );
    }

    #[test]
    fn json_string_decoding() {
        // scripting.tcl "EVAL - JSON string decoding".
        assert_eq!(
            run(
                r#"local decoded = cjson.decode('{"keya": "a", "keyb": "b"}'); return decoded.keya, decoded.keyb"#
            ),
            r#"3: true | "a" | "b""#
        );
    }

    #[test]
    fn json_smoke_test() {
        // scripting.tcl "EVAL - JSON smoke test" (its asserts pass; the
        // last call, restoring encode_keep_buffer, is ours).
        assert_eq!(
            run(
                r#"local some_map = { s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}; local encoded = cjson.encode(some_map); local decoded = cjson.decode(encoded); assert(table.concat(some_map) == table.concat(decoded)); cjson.encode_keep_buffer(false); encoded = cjson.encode(some_map); decoded = cjson.decode(encoded); assert(table.concat(some_map) == table.concat(decoded)); local table1 = {one="one", [1]="one"}; encoded = cjson.encode(table1); decoded = cjson.decode(encoded); assert(decoded["one"] == table1["one"]); assert(decoded["1"] == table1[1]); local array1 = {[1]="one", [2]="two"}; encoded = cjson.encode(array1); decoded = cjson.decode(encoded); assert(table.concat(array1) == table.concat(decoded)); local invalid_map = {}; invalid_map[false] = "false"; local ok, encoded = pcall(cjson.encode, invalid_map); assert(ok == false); cjson.encode_max_depth(1); ok, encoded = pcall(cjson.encode, some_map); assert(ok == false); cjson.decode_max_depth(1); ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}'); assert(ok == false); ok, encoded = pcall(cjson.encode, {num1=0/0}); assert(ok == false); cjson.encode_invalid_numbers(true); ok, encoded = pcall(cjson.encode, {num1=0/0}); assert(ok == true); cjson.decode_max_depth(1000); cjson.encode_max_depth(1000); cjson.encode_invalid_numbers(false); cjson.encode_keep_buffer(true)"#
            ),
            "1: true"
        );
    }

    #[test]
    fn g_format() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(1e14, 14), "1e+14");
        assert_eq!(format_g(1e-5, 14), "1e-05");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(-0.0, 14), "-0");
        assert_eq!(format_g(123456789012345678.0, 14), "1.2345678901235e+17");
        assert_eq!(format_g(1e300, 14), "1e+300");
        assert_eq!(format_g(9.5, 1), "1e+01");
        assert_eq!(format_g(2.5, 1), "2");
        assert_eq!(format_g(f64::INFINITY, 14), "inf");
    }

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (r#"return cjson.encode({1,2,3})"#, r#"2: true | "[1,2,3]""#),
        (
            r#"return cjson.encode({a=1})"#,
            r#"2: true | "{\034a\034:1}""#,
        ),
        (r#"return cjson.encode({})"#, r#"2: true | "{}""#),
        (
            r#"return cjson.encode({[1]=1,[2]=2,[4]=4})"#,
            r#"2: true | "[1,2,null,4]""#,
        ),
        (
            r#"return cjson.encode({[20]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode({[1]=1,[11]=2})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode({[10]=1})"#,
            r#"2: true | "[null,null,null,null,null,null,null,null,null,1]""#,
        ),
        (
            r#"return cjson.encode({[11]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode({[1]=1,[2]=2,[3]=3,[11]=4,[12]=5,[13]=6})"#,
            r#"2: false | "user_script:27: Cannot serialise table: excessively sparse array""#,
        ),
        (
            r#"return cjson.encode("a/b\"c\\d\1\31\127\128\255")"#,
            r#"2: true | "\034a\092/b\092\034c\092\092d\092u0001\092u001f\092u007f\128\255\034""#,
        ),
        (
            r#"return cjson.encode("\b\f\n\r\t\0\11")"#,
            r#"2: true | "\034\092b\092f\092n\092r\092t\092u0000\092u000b\034""#,
        ),
        (
            r#"return cjson.encode({0.1, 1/3, 1e15, 1e14, 123456789012345, 0/-1, 1e-5, 1e-4, 2^53, 2^63, -2^63, 100, -7.25, 1e100, 5e-324, 1.7976931348623157e308})"#,
            r#"2: true | "[0.1,0.33333333333333,1e+15,1e+14,1.2345678901234e+14,-0,1e-05,0.0001,9.007199254741e+15,9.2233720368548e+18,-9.2233720368548e+18,100,-7.25,1e+100,4.9406564584125e-324,1.7976931348623e+308]""#,
        ),
        (
            r#"return cjson.encode(1/0)"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode(-1/0)"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode(0/0)"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode({x = 0/0})"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"local old = cjson.encode_invalid_numbers(); local r = cjson.encode_invalid_numbers(true); local ok, e = pcall(cjson.encode, {1/0, -1/0, 0/0}); cjson.encode_invalid_numbers(old); return r, ok, e"#,
            r#"4: true | true | true | "[inf,-inf,nan]""#,
        ),
        (
            r#"local old = cjson.encode_invalid_numbers(); local r = cjson.encode_invalid_numbers('null'); local ok, e = pcall(cjson.encode, {1/0, -1/0, 0/0, 5}); cjson.encode_invalid_numbers(old); return old, r, ok, e, cjson.encode_invalid_numbers()"#,
            r#"6: true | false | "null" | true | "[null,null,null,5]" | false"#,
        ),
        (
            r#"local old = cjson.encode_invalid_numbers(); local r = cjson.encode_invalid_numbers('on'); local ok, e = pcall(cjson.encode, {[1/0]=1}); cjson.encode_invalid_numbers(old); return r, ok, e"#,
            r#"4: true | true | true | "{\034inf\034:1}""#,
        ),
        (
            r#"local old = cjson.encode_number_precision(); local r = cjson.encode_number_precision(3); local ok, e = pcall(cjson.encode, {math.pi, 1234567, 0.000123456, 100}); cjson.encode_number_precision(old); return old, r, ok, e"#,
            r#"5: true | 14 | 3 | true | "[3.14,1.23e+06,0.000123,100]""#,
        ),
        (
            r#"local old = cjson.encode_number_precision(); local r = cjson.encode_number_precision(1); local ok, e = pcall(cjson.encode, {2.5, 3.5, 15, 0.05}); cjson.encode_number_precision(old); return old, r, ok, e"#,
            r#"5: true | 14 | 1 | true | "[2,4,2e+01,0.05]""#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 999 do c[1] = {}; c = c[1] end; return #cjson.encode(t)"#,
            r#"2: true | 2000"#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 1000 do c[1] = {}; c = c[1] end; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 1000 do c.a = {}; c = c.a end; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"local t = {}; t[1] = t; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"local t = {}; t.x = t; return cjson.encode(t)"#,
            r#"2: false | "user_script:27: Cannot serialise, excessive nesting (1001)""#,
        ),
        (
            r#"return cjson.encode({[true]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise boolean: table key must be a number or string""#,
        ),
        (
            r#"return cjson.encode({[{}]=1})"#,
            r#"2: false | "user_script:27: Cannot serialise table: table key must be a number or string""#,
        ),
        (
            r#"return cjson.encode({[1.5]=1})"#,
            r#"2: true | "{\0341.5\034:1}""#,
        ),
        (
            r#"return cjson.encode({[-1]=1})"#,
            r#"2: true | "{\034-1\034:1}""#,
        ),
        (
            r#"return cjson.encode({[0]=1})"#,
            r#"2: true | "{\0340\034:1}""#,
        ),
        (
            r#"return cjson.encode({1,2,a=3})"#,
            r#"2: true | "{\0341\034:1,\0342\034:2,\034a\034:3}""#,
        ),
        (
            r#"return cjson.encode(tostring)"#,
            r#"2: false | "user_script:27: Cannot serialise function: type not supported""#,
        ),
        (
            r#"return cjson.encode({f=tostring})"#,
            r#"2: false | "user_script:27: Cannot serialise function: type not supported""#,
        ),
        (
            r#"return cjson.encode({tostring})"#,
            r#"2: false | "user_script:27: Cannot serialise function: type not supported""#,
        ),
        (
            r#"return cjson.encode(coroutine.create(function() end))"#,
            r#"2: false | "user_script:27: Cannot serialise thread: type not supported""#,
        ),
        (
            r#"return cjson.encode()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.encode(1, 2)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode' (expected 1 argument)""#,
        ),
        (r#"return cjson.encode(nil)"#, r#"2: true | "null""#),
        (r#"return cjson.encode(cjson.null)"#, r#"2: true | "null""#),
        (
            r#"return cjson.encode({cjson.null, 1})"#,
            r#"2: true | "[null,1]""#,
        ),
        (
            r#"return cjson.encode(true), cjson.encode(false), cjson.encode("x"), cjson.encode(12), cjson.encode("")"#,
            r#"6: true | "true" | "false" | "\034x\034" | "12" | "\034\034""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array(true); local ok, e = pcall(cjson.encode, {[20]=1}); cjson.encode_sparse_array(false); return a, b, c, ok, e"#,
            r#"6: true | true | 2 | 10 | true | "{\03420\034:1}""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array(nil, 0); local ok, e = pcall(cjson.encode, {[20]=1}); cjson.encode_sparse_array(nil, 2); return a, b, c, ok, e"#,
            r#"6: true | false | 0 | 10 | true | "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array(nil, nil, 30); local ok, e = pcall(cjson.encode, {[20]=1}); cjson.encode_sparse_array(nil, nil, 10); return a, b, c, ok, e"#,
            r#"6: true | false | 2 | 30 | true | "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]""#,
        ),
        (
            r#"local a, b, c = cjson.encode_sparse_array('on', 3, 0); local ok, e = pcall(cjson.encode, {[1]=1, [4]=1}); local ok2, e2 = pcall(cjson.encode, {[1]=1, [3]=1}); cjson.encode_sparse_array('off', 2, 10); return a, b, c, ok, e, ok2, e2, cjson.encode_sparse_array()"#,
            r#"11: true | true | 3 | 0 | true | "[1,null,null,1]" | true | "[1,null,1]" | false | 2 | 10"#,
        ),
        (
            r#"return cjson.encode_sparse_array()"#,
            r#"4: true | false | 2 | 10"#,
        ),
        (
            r#"return cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()"#,
            r#"7: true | 1000 | 1000 | 14 | true | false | true"#,
        ),
        (
            r#"return cjson.encode_max_depth(0)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)""#,
        ),
        (
            r#"return cjson.encode_max_depth('x')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_max_depth' (number expected, got string)""#,
        ),
        (
            r#"return cjson.encode_max_depth(1, 2)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'encode_max_depth' (found too many arguments)""#,
        ),
        (
            r#"return cjson.encode_number_precision(15)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)""#,
        ),
        (
            r#"return cjson.encode_number_precision(0)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)""#,
        ),
        (
            r#"return cjson.encode_keep_buffer('maybe')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_keep_buffer' (invalid option 'maybe')""#,
        ),
        (
            r#"return cjson.encode_keep_buffer(1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_keep_buffer' (invalid option '1')""#,
        ),
        (
            r#"return cjson.encode_invalid_numbers(1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_invalid_numbers' (invalid option '1')""#,
        ),
        (
            r#"return cjson.encode_invalid_numbers({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_invalid_numbers' (string expected, got table)""#,
        ),
        (
            r#"return cjson.encode_sparse_array(nil, -1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""#,
        ),
        (
            r#"return cjson.encode_sparse_array(nil, nil, -1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)""#,
        ),
        (
            r#"return cjson.encode_sparse_array(1, 2, 3, 4)"#,
            r#"2: false | "user_script:27: bad argument #4 to 'encode_sparse_array' (found too many arguments)""#,
        ),
        (
            r#"return cjson.encode_sparse_array('yes')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode_sparse_array' (invalid option 'yes')""#,
        ),
        (
            r#"local r = cjson.encode_keep_buffer(false); local r2 = cjson.encode_keep_buffer(true); return r, r2, cjson.encode({1})"#,
            r#"4: true | false | true | "[1]""#,
        ),
        (
            r#"local c = cjson.new(); local r = c.encode_max_depth(1); return cjson.encode_max_depth(), r, c.encode_max_depth(), pcall(c.encode, {{}}), c.null == cjson.null, c._NAME, c._VERSION"#,
            r#"8: true | 1000 | 1 | 1 | false | true | "cjson" | "2.1.0""#,
        ),
        (
            r#"return cjson._NAME, cjson._VERSION, type(cjson.null), cjson.null == nil, type(cjson.encode), type(cjson.new)"#,
            r#"7: true | "cjson" | "2.1.0" | "userdata" | false | "function" | "function""#,
        ),
        (
            r#"local n = 0; for k, v in pairs(cjson) do n = n + 1 end; return n"#,
            r#"2: true | 13"#,
        ),
        (
            r#"local ks = {}; for k, v in pairs(cjson) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "_NAME,encode,decode_max_depth,_VERSION,decode_invalid_numbers,encode_keep_buffer,null,encode_number_precision,new,encode_max_depth,encode_invalid_numbers,decode,encode_sparse_array""#,
        ),
        (
            r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#,
            r#"2: true | "0 -5000 -1 0.0003 1023.2 0""#,
        ),
        (
            r#"local decoded = cjson.decode('{"keya": "a", "keyb": "b"}'); return decoded.keya, decoded.keyb"#,
            r#"3: true | "a" | "b""#,
        ),
        (
            r#"return cjson.decode('"\\u00e9\\ud83d\\ude00\\u0041\\u20ac\\u0000x"')"#,
            r#"2: true | "\195\169\240\159\152\128A\226\130\172\000x""#,
        ),
        (
            r#"return cjson.decode('"\\x"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\udc00"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\ud800"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\ud800\\u0041"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\u12"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"\\u12G4"')"#,
            r#"2: false | "user_script:27: Expected value but found invalid unicode escape code at character 2""#,
        ),
        (
            r#"return cjson.decode('"abc\\')"#,
            r#"2: false | "user_script:27: Expected value but found invalid escape code at character 5""#,
        ),
        (
            r#"return cjson.decode('"\\/\\b\\f\\n\\r\\t\\"\\\\"')"#,
            r#"2: true | "/\008\012\010\013\009\034\092""#,
        ),
        (
            r#"return cjson.decode('[1,')"#,
            r#"2: false | "user_script:27: Expected value but found T_END at character 4""#,
        ),
        (
            r#"return cjson.decode('{"a":1,}')"#,
            r#"2: false | "user_script:27: Expected object key string but found T_OBJ_END at character 8""#,
        ),
        (
            r#"return cjson.decode('{"a" 1}')"#,
            r#"2: false | "user_script:27: Expected colon but found T_NUMBER at character 6""#,
        ),
        (
            r#"return cjson.decode('{1:2}')"#,
            r#"2: false | "user_script:27: Expected object key string but found T_NUMBER at character 2""#,
        ),
        (
            r#"return cjson.decode('[1 2]')"#,
            r#"2: false | "user_script:27: Expected comma or array end but found T_NUMBER at character 4""#,
        ),
        (
            r#"return cjson.decode('{"a":1 "b"}')"#,
            r#"2: false | "user_script:27: Expected comma or object end but found T_STRING at character 8""#,
        ),
        (
            r#"return cjson.decode('nul')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"return cjson.decode('')"#,
            r#"2: false | "user_script:27: Expected value but found T_END at character 1""#,
        ),
        (
            r#"return cjson.decode(' ')"#,
            r#"2: false | "user_script:27: Expected value but found T_END at character 2""#,
        ),
        (
            r#"return cjson.decode('"abc')"#,
            r#"2: false | "user_script:27: Expected value but found unexpected end of string at character 5""#,
        ),
        (
            r#"return cjson.decode('[1]x')"#,
            r#"2: false | "user_script:27: Expected the end but found invalid token at character 4""#,
        ),
        (
            r#"return cjson.decode('tru')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"return cjson.decode('truex')"#,
            r#"2: false | "user_script:27: Expected the end but found invalid token at character 5""#,
        ),
        (
            r#"return cjson.decode('-')"#,
            r#"2: false | "user_script:27: Expected value but found invalid number at character 1""#,
        ),
        (
            r#"return cjson.decode('--1')"#,
            r#"2: false | "user_script:27: Expected value but found invalid number at character 1""#,
        ),
        (r#"return cjson.decode('+1')"#, r#"2: true | 1"#),
        (r#"return cjson.decode('0x10')"#, r#"2: true | 16"#),
        (r#"return cjson.decode('0x1p4')"#, r#"2: true | 16"#),
        (r#"return cjson.decode('inf')"#, r#"2: true | inf"#),
        (r#"return cjson.decode('-Infinity')"#, r#"2: true | -inf"#),
        (r#"return cjson.decode('nan')"#, r#"2: true | nan"#),
        (r#"return cjson.decode('-nan')"#, r#"2: true | -nan"#),
        (r#"return cjson.decode('NaN')"#, r#"2: true | nan"#),
        (r#"return cjson.decode('01')"#, r#"2: true | 1"#),
        (
            r#"return cjson.decode('1.5e')"#,
            r#"2: false | "user_script:27: Expected the end but found invalid token at character 4""#,
        ),
        (
            r#"return cjson.decode('.5')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (r#"return cjson.decode('-.5')"#, r#"2: true | -0.5"#),
        (r#"return cjson.decode('1e400')"#, r#"2: true | inf"#),
        (
            r#"return cjson.decode('123456789012345678901234567890')"#,
            r#"2: true | 1.2345678901234568e+29"#,
        ),
        (
            r#"return cjson.decode('\t[\n1\r]  ')"#,
            r#"2: true | {[1]=1}"#,
        ),
        (
            r#"return cjson.decode('[\1]')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 2""#,
        ),
        (
            r#"return cjson.decode('\128')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"return cjson.decode('"\1\2\255"')"#,
            r#"2: true | "\001\002\255""#,
        ),
        (
            r#"local old = cjson.decode_invalid_numbers(); cjson.decode_invalid_numbers(false); local r = {}; for _, s in ipairs({'0x10', '+1', 'inf', '01', '-inf', 'nan', '1', '-0', '0.5', '-01'}) do r[#r+1] = tostring(select(2, pcall(cjson.decode, s))) end; cjson.decode_invalid_numbers(old); return old, table.concat(r, ' ; ')"#,
            r#"3: true | true | "Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; 1 ; -0 ; 0.5 ; Expected value but found invalid number at character 1""#,
        ),
        (
            r#"return #cjson.decode(nest(1000, '[', ']'))"#,
            r#"2: true | 1"#,
        ),
        (
            r#"return cjson.decode(nest(1001, '[', ']'))"#,
            r#"2: false | "user_script:27: Found too many nested data structures (1001) at character 1001""#,
        ),
        (
            r#"return cjson.decode(string.rep('{"a":', 1001) .. '1' .. string.rep('}', 1001))"#,
            r#"2: false | "user_script:27: Found too many nested data structures (1001) at character 5001""#,
        ),
        (
            r#"local t = cjson.decode(string.rep('{"a":', 1000) .. '1' .. string.rep('}', 1000)); return type(t.a.a)"#,
            r#"2: true | "table""#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(2); local ok, e = pcall(cjson.decode, '[[1]]'); local ok2, e2 = pcall(cjson.decode, '[[[1]]]'); cjson.decode_max_depth(old); return ok, e, ok2, e2"#,
            r#"5: true | true | {[1]={[1]=1}} | false | "Found too many nested data structures (3) at character 3""#,
        ),
        (
            r#"local t = cjson.decode('[null, 1]'); return t[1] == cjson.null, #t"#,
            r#"3: true | true | 2"#,
        ),
        (
            r#"local t = cjson.decode('{"a":null}'); return t.a == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cjson.decode('null') == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cjson.decode('[1]\0garbage')"#,
            r#"2: true | {[1]=1}"#,
        ),
        (
            r#"return cjson.decode('\0[')"#,
            r#"2: false | "user_script:27: JSON parser does not support UTF-16 or UTF-32""#,
        ),
        (
            r#"return cjson.decode('[\0')"#,
            r#"2: false | "user_script:27: JSON parser does not support UTF-16 or UTF-32""#,
        ),
        (
            r#"return cjson.decode('"a\0b"')"#,
            r#"2: false | "user_script:27: Expected value but found unexpected end of string at character 3""#,
        ),
        (
            r#"return cjson.decode('1\0')"#,
            r#"2: false | "user_script:27: JSON parser does not support UTF-16 or UTF-32""#,
        ),
        (r#"return cjson.decode(123)"#, r#"2: true | 123"#),
        (
            r#"return cjson.decode()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.decode(nil)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (string expected, got nil)""#,
        ),
        (
            r#"return cjson.decode({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (string expected, got table)""#,
        ),
        (
            r#"return cjson.decode('1', '2')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'decode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.decode('{"a":1,"a":2}')"#,
            r#"2: true | {["a"]=2}"#,
        ),
        (
            r#"return cjson.encode(cjson.decode('{"a":[1,2,{"b":null}]}'))"#,
            r#"2: true | "{\034a\034:[1,2,{\034b\034:null}]}""#,
        ),
        (
            r#"return cjson.decode('{"a":[1,2,{"b":null,"c":[true,false]}],"d":"x"}')"#,
            r#"2: true | {["a"]={[1]=1,[2]=2,[3]={["c"]={[1]=true,[2]=false},["b"]=NULL}},["d"]="x"}"#,
        ),
        (
            r#"return cjson.decode('[]'), cjson.decode('{}'), cjson.encode(cjson.decode('[]'))"#,
            r#"4: true | {} | {} | "{}""#,
        ),
        (
            r#"return cjson.decode('  true  '), cjson.decode('false'), cjson.decode('"x"'), cjson.decode('12.5')"#,
            r#"5: true | true | false | "x" | 12.5"#,
        ),
        (
            r#"return cjson.decode('[1,2,3,]')"#,
            r#"2: false | "user_script:27: Expected value but found T_ARR_END at character 8""#,
        ),
        (
            r#"return cjson.decode('[,]')"#,
            r#"2: false | "user_script:27: Expected value but found T_COMMA at character 2""#,
        ),
        (
            r#"return cjson.decode('{"a":}')"#,
            r#"2: false | "user_script:27: Expected value but found T_OBJ_END at character 6""#,
        ),
        (
            r#"return cjson.decode('{"a"::1}')"#,
            r#"2: false | "user_script:27: Expected value but found T_COLON at character 6""#,
        ),
        (
            r#"return cjson.decode('{,}')"#,
            r#"2: false | "user_script:27: Expected object key string but found T_COMMA at character 2""#,
        ),
        (
            r#"return cjson.decode(']')"#,
            r#"2: false | "user_script:27: Expected value but found T_ARR_END at character 1""#,
        ),
        (
            r#"return cjson.decode('[1]]')"#,
            r#"2: false | "user_script:27: Expected the end but found T_ARR_END at character 4""#,
        ),
        (
            r#"return cjson.decode('"a" "b"')"#,
            r#"2: false | "user_script:27: Expected the end but found T_STRING at character 5""#,
        ),
        (
            r#"return cjson.decode('T')"#,
            r#"2: false | "user_script:27: Expected value but found invalid token at character 1""#,
        ),
        (
            r#"local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}; local encoded = cjson.encode(some_map); local decoded = cjson.decode(encoded); assert(table.concat(some_map) == table.concat(decoded)); return encoded"#,
            r#"2: true | "{\034n1\034:100,\034s1\034:\034Some string\034,\034b1\034:true,\034a1\034:[\034Some\034,\034String\034,\034Array\034],\034b2\034:false}""#,
        ),
        (
            r#"local t = cjson.decode('{"x":1,"y":2,"z":3,"w":4,"longer key":5}'); return cjson.encode(t)"#,
            r#"2: true | "{\034y\034:2,\034x\034:1,\034z\034:3,\034longer key\034:5,\034w\034:4}""#,
        ),
        (
            r#"local t = {}; for i = 1, 20 do t['k' .. i] = i end; return cjson.encode(t)"#,
            r#"2: true | "{\034k16\034:16,\034k19\034:19,\034k11\034:11,\034k17\034:17,\034k15\034:15,\034k20\034:20,\034k10\034:10,\034k8\034:8,\034k1\034:1,\034k12\034:12,\034k3\034:3,\034k2\034:2,\034k9\034:9,\034k13\034:13,\034k18\034:18,\034k14\034:14,\034k6\034:6,\034k7\034:7,\034k4\034:4,\034k5\034:5}""#,
        ),
        (
            r#"local t = {}; for i = 1, 5 do t[i * 1.5] = i end; return cjson.encode(t)"#,
            r#"2: true | "{\0346\034:4,\0344.5\034:3,\0343\034:2,\0347.5\034:5,\0341.5\034:1}""#,
        ),
        (
            r#"return cjson.encode({[2^31] = 1})"#,
            r#"2: true | "{\0342147483648\034:1}""#,
        ),
        (
            r#"return cjson.encode({[1] = 1, [2^31] = 2})"#,
            r#"2: true | "{\0341\034:1,\0342147483648\034:2}""#,
        ),
        (
            r#"return cjson.encode({[2^40] = 1, [1] = 2})"#,
            r#"2: true | "[2]""#,
        ),
        (
            r#"return cjson.encode({[1/0] = 1})"#,
            r#"2: false | "user_script:27: Cannot serialise number: must not be NaN or Inf""#,
        ),
        (
            r#"return cjson.encode({{{{}}}})"#,
            r#"2: true | "[[[{}]]]""#,
        ),
        (
            r#"return cjson.encode({a={b={c={}}}})"#,
            r#"2: true | "{\034a\034:{\034b\034:{\034c\034:{}}}}""#,
        ),
        (
            r#"return cjson.encode(string.rep('x', 40) .. '/')"#,
            r#"2: true | "\034xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\092/\034""#,
        ),
        (
            r#"return cjson.decode(cjson.encode({["k\0ey"] = "v\0al"}))"#,
            r#"2: true | {["k\000ey"]="v\000al"}"#,
        ),
        (
            r#"return cjson:decode('x')"#,
            r#"2: false | "user_script:27: calling 'decode' on bad self (expected 1 argument)""#,
        ),
        (
            r#"return pcall(cjson.encode)"#,
            r#"3: true | false | "bad argument #1 to '?' (expected 1 argument)""#,
        ),
        (
            r#"return pcall(cjson.decode, '[')"#,
            r#"3: true | false | "Expected value but found T_END at character 2""#,
        ),
        (
            r#"return cjson.encode(unpack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35}))"#,
            r#"2: false | "user_script:27: bad argument #1 to 'encode' (expected 1 argument)""#,
        ),
        (
            r#"return cjson.decode('1.5e+3'), cjson.decode('-0'), cjson.decode('1E2'), cjson.decode('0.000001'), cjson.decode('-1.5E-3')"#,
            r#"6: true | 1500 | -0 | 100 | 9.9999999999999995e-07 | -0.0015"#,
        ),
        (
            r#"return cjson.encode({[1e20]=1, [0.1]=2})"#,
            r#"2: true | "{\0341e+20\034:1,\0340.1\034:2}""#,
        ),
        (
            r#"local old = cjson.encode_number_precision(); cjson.encode_number_precision(2); local ok, e = pcall(cjson.encode, {[123.456]=1.23456}); cjson.encode_number_precision(old); return ok, e"#,
            r#"3: true | true | "{\0341.2e+02\034:1.2}""#,
        ),
        (
            r#"return cjson.decode('"\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff"')"#,
            r#"2: true | "\194\128\223\191\224\160\128\239\191\191\244\143\191\191""#,
        ),
        (
            r#"return cjson.encode(cjson.decode('"\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff"'))"#,
            r#"2: true | "\034\194\128\223\191\224\160\128\239\191\191\244\143\191\191\034""#,
        ),
        (
            r#"return cjson.encode({[1]=1, [2]=2, n=3})"#,
            r#"2: true | "{\0341\034:1,\0342\034:2,\034n\034:3}""#,
        ),
        (
            r#"local t = {}; for i = 1, 6 do t[string.rep(string.char(96 + i), 20)] = i end; return cjson.encode(t)"#,
            r#"2: true | "{\034ffffffffffffffffffff\034:6,\034eeeeeeeeeeeeeeeeeeee\034:5,\034aaaaaaaaaaaaaaaaaaaa\034:1,\034dddddddddddddddddddd\034:4,\034cccccccccccccccccccc\034:3,\034bbbbbbbbbbbbbbbbbbbb\034:2}""#,
        ),
        (
            r#"return cjson.encode({['\0'] = '\0'})"#,
            r#"2: true | "{\034\092u0000\034:\034\092u0000\034}""#,
        ),
        (
            r#"return cjson.decode('{"a":{"b":{"c":[1,[2,[3,{"d":null}]]]}}}').a.b.c[2][2][2].d == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cjson.decode('[{"a":1},{"b":2},[],{}]')"#,
            r#"2: true | {[1]={["a"]=1},[2]={["b"]=2},[3]={},[4]={}}"#,
        ),
        (
            r#"return cjson.decode('{"a":[],"b":{},"c":[[]],"d":[{}]}')"#,
            r#"2: true | {["a"]={},["d"]={[1]={}},["c"]={[1]={}},["b"]={}}"#,
        ),
        (r#"return cjson.decode('{"":1}')"#, r#"2: true | {[""]=1}"#),
        (
            r#"return cjson.decode('{"a":1,"b":[1,2,3],"c":{"d":"e"}}')"#,
            r#"2: true | {["a"]=1,["c"]={["d"]="e"},["b"]={[1]=1,[2]=2,[3]=3}}"#,
        ),
        (
            r#"return cjson.decode(' [ 1 , 2 , { "a" : [ ] } ] ')"#,
            r#"2: true | {[1]=1,[2]=2,[3]={["a"]={}}}"#,
        ),
        (
            r#"return cjson.decode('[1,2')"#,
            r#"2: false | "user_script:27: Expected comma or array end but found T_END at character 5""#,
        ),
        (
            r#"return cjson.decode('{"a":1')"#,
            r#"2: false | "user_script:27: Expected comma or object end but found T_END at character 7""#,
        ),
        (
            r#"return cjson.decode('{"a"')"#,
            r#"2: false | "user_script:27: Expected colon but found T_END at character 5""#,
        ),
        (
            r#"return cjson.decode('{"a":[1,{"b":}]}')"#,
            r#"2: false | "user_script:27: Expected value but found T_OBJ_END at character 14""#,
        ),
        (
            r#"return cjson.decode('[[[[[[1]]]]],2,[3')"#,
            r#"2: false | "user_script:27: Expected comma or array end but found T_END at character 18""#,
        ),
        (
            r#"local t = {}; for i = 1, 200 do t[i] = {i, {tostring(i)}, {x = i}} end; local s = cjson.encode(t); local d = cjson.decode(s); return #s, d[100][2][1], d[200][3].x, cjson.encode(d) == s"#,
            r#"5: true | 4477 | "100" | 200 | true"#,
        ),
        (
            r#"return cjson.encode({[-0.0] = 1}), cjson.encode({[0/-1] = 1})"#,
            r#"3: true | "{\034-0\034:1}" | "{\034-0\034:1}""#,
        ),
        (
            r#"return cjson.decode('[1, 2] ')"#,
            r#"2: true | {[1]=1,[2]=2}"#,
        ),
        (
            r#"return cjson.decode('{"a":1}\t\n')"#,
            r#"2: true | {["a"]=1}"#,
        ),
        (
            r#"return cjson.decode('[1e5, 1E+5, 1e-5, 12345678901234567890, -0.0]')"#,
            r#"2: true | {[1]=100000,[2]=100000,[3]=1.0000000000000001e-05,[4]=1.2345678901234567e+19,[5]=-0}"#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return cjson.encode(s)"#,
            r#"2: true | "\034\092u0000\092u0001\092u0002\092u0003\092u0004\092u0005\092u0006\092u0007\092b\092t\092n\092u000b\092f\092r\092u000e\092u000f\092u0010\092u0011\092u0012\092u0013\092u0014\092u0015\092u0016\092u0017\092u0018\092u0019\092u001a\092u001b\092u001c\092u001d\092u001e\092u001f !\092\034#$%&'()*+,-.\092/0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\092\092]^_\096abcdefghijklmnopqrstuvwxyz{|}~\092u007f\128\129\130\131\132\133\134\135\136\137\138\139\140\141\142\143\144\145\146\147\148\149\150\151\152\153\154\155\156\157\158\159\160\161\162\163\164\165\166\167\168\169\170\171\172\173\174\175\176\177\178\179\180\181\182\183\184\185\186\187\188\189\190\191\192\193\194\195\196\197\198\199\200\201\202\203\204\205\206\207\208\209\210\211\212\213\214\215\216\217\218\219\220\221\222\223\224\225\226\227\228\229\230\231\232\233\234\235\236\237\238\239\240\241\242\243\244\245\246\247\248\249\250\251\252\253\254\255\034""#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return cjson.decode(cjson.encode(s)) == s, cjson.decode(cjson.encode({[s] = s}))[s] == s"#,
            r#"3: true | true | true"#,
        ),
        (
            r#"local co = coroutine.wrap(function() return cjson.encode({1}), pcall(cjson.decode, '['), cmsgpack.unpack(cmsgpack.pack(1, 2)) end); return co()"#,
            r#"5: true | "[1]" | false | 1 | 2"#,
        ),
        (
            r#"local co = coroutine.wrap(function() return cjson.decode(string.rep('[', 1001)) end); return co()"#,
            r#"2: false | "user_script:27: user_script:27: Found too many nested data structures (1001) at character 1001""#,
        ),
        (
            r#"return xpcall(function() return cjson.decode('[') end, function(e) return 'handled: ' .. e end)"#,
            r#"3: true | false | "handled: user_script:27: Expected value but found T_END at character 2""#,
        ),
        (
            r#"return select(2, pcall(error, cjson.null)) == cjson.null"#,
            r#"2: true | true"#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(100000); local ok, e = pcall(cjson.decode, nest(7998, '[', ']')); local ok2, e2 = pcall(cjson.decode, nest(7999, '[', ']')); cjson.decode_max_depth(old); return ok, ok and '' or e, ok2, ok2 and '' or e2"#,
            r#"5: true | true | "" | false | "Found too many nested data structures (7999) at character 7999""#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(100000); local ok, e = pcall(cjson.decode, string.rep('{"a":', 3999) .. '1' .. string.rep('}', 3999)); local ok2, e2 = pcall(cjson.decode, string.rep('{"a":', 4000) .. '1' .. string.rep('}', 4000)); cjson.decode_max_depth(old); return ok, ok and '' or e, ok2, ok2 and '' or e2"#,
            r#"5: true | true | "" | false | "Found too many nested data structures (4000) at character 19996""#,
        ),
        (
            r#"local old = cjson.decode_max_depth(); cjson.decode_max_depth(100000); local ok, e = pcall(cjson.decode, string.rep('[{"a":', 2000) .. '1' .. string.rep('}]', 2000)); local ok2, e2 = pcall(cjson.decode, string.rep('[{"a":', 2700) .. '1' .. string.rep('}]', 2700)); cjson.decode_max_depth(old); return ok, ok and '' or e, ok2, ok2 and '' or e2"#,
            r#"5: true | true | "" | false | "Found too many nested data structures (5333) at character 15997""#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(100000); local t = {}; local c = t; for i = 1, 7996 do c[1] = {}; c = c[1] end; local ok, e = pcall(cjson.encode, t); c[1] = {}; local ok2, e2 = pcall(cjson.encode, t); c[1][1] = {}; local ok3, e3 = pcall(cjson.encode, t); cjson.encode_max_depth(old); return ok, ok and #e or e, ok2, ok2 and #e2 or e2, ok3, ok3 and #e3 or e3"#,
            r#"7: true | true | 15994 | false | "Cannot serialise, excessive nesting (7998)" | false | "Cannot serialise, excessive nesting (7998)""#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(100000); local t = {}; local c = t; for i = 1, 3998 do c.a = {}; c = c.a end; local ok, e = pcall(cjson.encode, t); c.a = {}; local ok2, e2 = pcall(cjson.encode, t); c.a.a = {}; local ok3, e3 = pcall(cjson.encode, t); cjson.encode_max_depth(old); return ok, ok and #e or e, ok2, ok2 and #e2 or e2, ok3, ok3 and #e3 or e3"#,
            r#"7: true | true | 23990 | false | "Cannot serialise, excessive nesting (4000)" | false | "Cannot serialise, excessive nesting (4000)""#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(100000); local t = {}; t[1] = t; local ok, e = pcall(cjson.encode, t); local t2 = {}; t2.x = t2; local ok2, e2 = pcall(cjson.encode, t2); cjson.encode_max_depth(old); return ok, e, ok2, e2, cjson.encode_max_depth()"#,
            r#"6: true | false | "Cannot serialise, excessive nesting (7998)" | false | "Cannot serialise, excessive nesting (4000)" | 1000"#,
        ),
        (
            r#"local old = cjson.encode_max_depth(); cjson.encode_max_depth(5); local t = {{{{{1}}}}}; local ok, e = pcall(cjson.encode, t); local ok2, e2 = pcall(cjson.encode, {t}); cjson.encode_max_depth(old); return ok, e, ok2, e2"#,
            r#"5: true | true | "[[[[[1]]]]]" | false | "Cannot serialise, excessive nesting (6)""#,
        ),
    ];
}

mod cmsgpack {
    use super::testing::{check_cases, run};

    #[test]
    fn can_pack_double() {
        // scripting.tcl "EVAL - cmsgpack can pack double?".
        assert_eq!(
            run(
                r#"local encoded = cmsgpack.pack(0.1); local h = ""; for i = 1, #encoded do h = h .. string.format("%02x",string.byte(encoded,i)) end; return h"#
            ),
            r#"2: true | "cb3fb999999999999a""#
        );
    }

    #[test]
    fn can_pack_negative_int64() {
        // scripting.tcl "EVAL - cmsgpack can pack negative int64?".
        assert_eq!(
            run(
                r#"local encoded = cmsgpack.pack(-1099511627776); local h = ""; for i = 1, #encoded do h = h .. string.format("%02x",string.byte(encoded,i)) end; return h"#
            ),
            r#"2: true | "d3ffffff0000000000""#
        );
    }

    #[test]
    fn circular_references() {
        // scripting.tcl "EVAL - cmsgpack can pack and unpack circular
        // references?".
        assert_eq!(
            run(
                r#"local a = {x=nil,y=5}; local b = {x=a}; a['x'] = b; local encoded = cmsgpack.pack(a); local h = ""; for i = 1, #encoded do h = h .. string.format("%02x",string.byte(encoded,i)) end; local re = cmsgpack.unpack(encoded); assert(re); assert(re.x); assert(re.x.x.y == re.y); assert(re.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil); return h, re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5"#
            ),
            r#"4: true | "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0" | true | true"#
        );
    }

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (
            r#"local ks = {}; for k, v in pairs(cmsgpack) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "_DESCRIPTION,pack,_NAME,unpack,_COPYRIGHT,_VERSION,unpack_one,unpack_limit""#,
        ),
        (
            r#"return hex(cmsgpack.pack(0.1))"#,
            r#"2: true | "cb3fb999999999999a""#,
        ),
        (
            r#"return hex(cmsgpack.pack(-1099511627776))"#,
            r#"2: true | "d3ffffff0000000000""#,
        ),
        (
            r#"local r = {}; for _, n in ipairs({0,1,127,128,255,256,65535,65536,2^32-1,2^32,2^53,2^63,-2^63,-1,-32,-33,-128,-129,-32768,-32769,-2^31,-2^31-1, 2^64}) do r[#r+1] = hex(cmsgpack.pack(n)) end; return table.concat(r, ' ')"#,
            r#"2: true | "00 01 7f cc80 ccff cd0100 cdffff ce00010000 ceffffffff cf0000000100000000 cf0020000000000000 ca5f000000 d38000000000000000 ff e0 d0df d080 d1ff7f d18000 d2ffff7fff d280000000 d3ffffffff7fffffff ca5f800000""#,
        ),
        (
            r#"local r = {}; for _, n in ipairs({1.5, 0.1, 1e300, 1/0, -1/0, 0/-1, 3.4028234663852886e38, 1e39, 1e-45, 2^-149, 0.25, -2.5}) do r[#r+1] = hex(cmsgpack.pack(n)) end; return table.concat(r, ' ')"#,
            r#"2: true | "ca3fc00000 cb3fb999999999999a cb7e37e43c8800759c ca7f800000 caff800000 00 ca7f7fffff cb48078287f49c4a1d cb3696d601ad376ab9 ca00000001 ca3e800000 cac0200000""#,
        ),
        (
            r#"return hex(cmsgpack.pack(0/0))"#,
            r#"2: true | "cbfff8000000000000""#,
        ),
        (
            r#"local r = {}; for _, n in ipairs({0, 1, 31, 32, 255, 256, 65535}) do r[#r+1] = hex(cmsgpack.pack(string.rep('a', n)):sub(1, 10)) end; return table.concat(r, ' ')"#,
            r#"2: true | "a0 a161 bf616161616161616161 d9206161616161616161 d9ff6161616161616161 da010061616161616161 daffff61616161616161""#,
        ),
        (
            r#"return hex(cmsgpack.pack(string.rep('a', 65536)):sub(1, 12)), #cmsgpack.pack(string.rep('a', 65536))"#,
            r#"3: true | "db0001000061616161616161" | 65541"#,
        ),
        (
            r#"return hex(cmsgpack.pack(true, false, nil, tostring))"#,
            r#"2: true | "c3c2c0c0""#,
        ),
        (r#"return hex(cmsgpack.pack({}))"#, r#"2: true | "90""#),
        (
            r#"return hex(cmsgpack.pack({1,2,3}))"#,
            r#"2: true | "93010203""#,
        ),
        (
            r#"return hex(cmsgpack.pack({a=1}))"#,
            r#"2: true | "81a16101""#,
        ),
        (
            r#"return hex(cmsgpack.pack({1,2,nil,4}))"#,
            r#"2: true | "83010102020404""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[1]=1,[3]=3}))"#,
            r#"2: true | "8201010303""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[0]=1}))"#,
            r#"2: true | "810001""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[1.5]=1}))"#,
            r#"2: true | "81ca3fc0000001""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[2^31]=1}))"#,
            r#"2: true | "81ce8000000001""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[true]=1}))"#,
            r#"2: true | "81c301""#,
        ),
        (
            r#"return hex(cmsgpack.pack({[{1}]={2}}))"#,
            r#"2: true | "8191019102""#,
        ),
        (
            r#"return hex(cmsgpack.pack({{{{}}}}))"#,
            r#"2: true | "91919190""#,
        ),
        (
            r#"local t = {}; for i = 1, 16 do t[i] = i end; return hex(cmsgpack.pack(t))"#,
            r#"2: true | "dc00100102030405060708090a0b0c0d0e0f10""#,
        ),
        (
            r#"local t = {}; for i = 1, 70000 do t[i] = 0 end; return hex(cmsgpack.pack(t):sub(1, 8))"#,
            r#"2: true | "dd00011170000000""#,
        ),
        (
            r#"local t = {}; for i = 1, 16 do t['k' .. i] = i end; return hex(cmsgpack.pack(t):sub(1, 3)), #cmsgpack.pack(t)"#,
            r#"3: true | "de0010" | 74"#,
        ),
        (
            r#"local t = {}; for i = 1, 70000 do t['k' .. i] = 0 end; return hex(cmsgpack.pack(t):sub(1, 5))"#,
            r#"2: true | "df00011170""#,
        ),
        (
            r#"local a = {x=nil,y=5}; local b = {x=a}; a['x'] = b; return hex(cmsgpack.pack(a))"#,
            r#"2: true | "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0""#,
        ),
        (
            r#"local t = {}; t[1] = t; return hex(cmsgpack.pack(t))"#,
            r#"2: true | "91919191919191919191919191919191c0""#,
        ),
        (
            r#"local t = {}; local c = t; for i = 1, 20 do c[1] = {}; c = c[1] end; return hex(cmsgpack.pack(t))"#,
            r#"2: true | "91919191919191919191919191919191c0""#,
        ),
        (
            r#"return hex(cmsgpack.pack(1, 2, 'x', {1}))"#,
            r#"2: true | "0102a1789101""#,
        ),
        (
            r#"return cmsgpack.pack()"#,
            r#"2: false | "user_script:27: bad argument #0 to 'pack' (MessagePack pack needs input.)""#,
        ),
        (r#"return hex(cmsgpack.pack(nil))"#, r#"2: true | "c0""#),
        (
            r#"return hex(cmsgpack.pack(cjson.null))"#,
            r#"2: true | "c0""#,
        ),
        (
            r#"return cmsgpack.unpack(cmsgpack.pack(1, 'a', true, false, 1.5, 0.1, -5, {1,2}, {a={b='c'}}))"#,
            r#"10: true | 1 | "a" | true | false | 1.5 | 0.10000000000000001 | -5 | {[1]=1,[2]=2} | {["a"]={["b"]="c"}}"#,
        ),
        (
            r#"return cmsgpack.unpack('\196\1a')"#,
            r#"2: false | "user_script:27: Bad data format in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\193')"#,
            r#"2: false | "user_script:27: Bad data format in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\199\1\1a')"#,
            r#"2: false | "user_script:27: Bad data format in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\205\1')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\146\1')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\218\0\5abc')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\219\0\0\0\5abc')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (r#"return cmsgpack.unpack('')"#, r#"1: true"#),
        (
            r#"return cmsgpack.unpack('\207\255\255\255\255\255\255\255\255', '\207\128\0\0\0\0\0\0\0')"#,
            r#"2: true | -1"#,
        ),
        (
            r#"return cmsgpack.unpack('\207\255\255\255\255\255\255\255\255\207\128\0\0\0\0\0\0\0\207\0\0\0\1\0\0\0\0')"#,
            r#"4: true | -1 | -9.2233720368547758e+18 | 4294967296"#,
        ),
        (
            r#"return cmsgpack.unpack('\211\255\255\255\255\255\255\255\255\211\128\0\0\0\0\0\0\0')"#,
            r#"3: true | -1 | -9.2233720368547758e+18"#,
        ),
        (
            r#"return cmsgpack.unpack('\206\255\255\255\255\210\255\255\255\255\205\255\255\209\255\133\204\255\208\128\255\224\127')"#,
            r#"10: true | 4294967295 | -1 | 65535 | -123 | 255 | -128 | -1 | -32 | 127"#,
        ),
        (
            r#"return cmsgpack.unpack('\202\63\192\0\0\203\63\185\153\153\153\153\153\154')"#,
            r#"3: true | 1.5 | 0.10000000000000001"#,
        ),
        (
            r#"return cmsgpack.unpack('\129\192\1')"#,
            r#"2: false | "table index is nil""#,
        ),
        (
            r#"return cmsgpack.unpack('\129\203\127\248\0\0\0\0\0\0\1')"#,
            r#"2: false | "table index is NaN""#,
        ),
        (
            r#"return cmsgpack.unpack('\129\192')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\130\161a\1\161a\192')"#,
            r#"2: true | {}"#,
        ),
        (
            r#"return cmsgpack.unpack('\130\161a\1\161b')"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack('\147\1\192\3')"#,
            r#"2: true | {[1]=1,[3]=3}"#,
        ),
        (
            r#"return cmsgpack.unpack('\220\0\2\1\2\221\0\0\0\1\3\222\0\1\1\2\223\0\0\0\1\3\4')"#,
            r#"5: true | {[1]=1,[2]=2} | {[1]=3} | {[1]=2} | {[3]=4}"#,
        ),
        (
            r#"return cmsgpack.unpack('\217\3abc\160')"#,
            r#"3: true | "abc" | """#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))"#,
            r#"3: true | 1 | 1"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)"#,
            r#"3: true | 2 | 2"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)"#,
            r#"3: true | -1 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)"#,
            r#"2: true | -1"#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)"#,
            r#"2: false | "user_script:27: Start offset 4 greater than input length 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of -1 and limit of 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_one('\1\2', 1, 'ignored')"#,
            r#"3: true | -1 | 2"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)"#,
            r#"4: true | 2 | 1 | 2"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)"#,
            r#"3: true | -1 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)"#,
            r#"4: true | 1 | 2 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)"#,
            r#"2: true | 1"#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of 0 and limit of 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 1, 10)"#,
            r#"2: false | "user_script:27: Start offset 10 greater than input length 3.""#,
        ),
        (
            r#"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack_limit' (number expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack_limit()"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack_limit' (number expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack_one()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack_one' (string expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (string expected, got no value)""#,
        ),
        (
            r#"return cmsgpack.unpack({})"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (string expected, got table)""#,
        ),
        (r#"return cmsgpack.unpack(12)"#, r#"3: true | 49 | 50"#),
        (
            r#"return cmsgpack.unpack_limit('\1', 'x')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack_limit' (number expected, got string)""#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1', '1', '0')"#,
            r#"3: true | -1 | 1"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 7990)))"#,
            r#"2: true | 7990"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 7999)))"#,
            r#"2: true | 7999"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 8000)))"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 9000)))"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return select('#', cmsgpack.unpack(string.rep('\1', 7998), 'x'))"#,
            r#"2: true | 7998"#,
        ),
        (
            r#"return select('#', cmsgpack.unpack_limit(string.rep('\1', 7999), 7999))"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_unpack_full)""#,
        ),
        (
            r#"return select('#', cmsgpack.unpack_limit(string.rep('\1', 8000), 8000))"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"local t = cmsgpack.unpack(string.rep('\145', 100) .. '\1'); return type(t[1][1])"#,
            r#"2: true | "table""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 5000) .. '\1')"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_decode_to_lua_array)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 3998) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 3999) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\145', 4000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_decode_to_lua_array)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 3998) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 3999) .. '\1') ~= nil"#,
            r#"2: true | true"#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 4000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 7998) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129\1', 7999) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 3000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 4000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: Missing bytes in input.""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 7999) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 8000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"return cmsgpack.unpack(string.rep('\129', 9000) .. '\1') ~= nil"#,
            r#"2: false | "user_script:27: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)""#,
        ),
        (
            r#"local t = {}; for i = 1, 4000 do t[i] = i end; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 11618"#,
        ),
        (
            r#"local t = {}; for i = 1, 4001 do t[i] = i end; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)""#,
        ),
        (
            r#"local t = {}; for i = 1, 4000 do t[i] = 'x' end; t[4000] = {}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: stack overflow (in function table_is_an_array)""#,
        ),
        (
            r#"local t = {}; for i = 1, 3999 do t[i] = 'x' end; t[3999] = {}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"local t = {}; for i = 1, 3998 do t[i] = 'x' end; t[3998] = {1}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7996"#,
        ),
        (
            r#"local t = {}; for i = 1, 3999 do t[i] = 'x' end; t[3999] = {a={}}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: stack overflow (in function mp_encode_lua_table_as_map)""#,
        ),
        (
            r#"local t = {}; for i = 1, 3998 do t[i] = 'x' end; t[3998] = {{{}}}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"local t = {}; for i = 1, 3997 do t[i] = 'x' end; t[3997] = {a={b={}}}; return #cmsgpack.pack(unpack(t))"#,
            r#"2: true | 7999"#,
        ),
        (
            r#"local t = {}; for i = 1, 7000 do t[i] = 'y' .. i end; return #cmsgpack.pack(unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)""#,
        ),
        (
            r#"local str_lt_32 = string.rep("x", 30); local str_lt_255 = string.rep("x", 250); local str_lt_65535 = string.rep("x", 65530); local str_long = string.rep("x", 100000); local array_lt_15 = {1, 2, 3, 4, 5}; local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}; local array_big = {}; for i=1, 100000 do array_big[i] = i end; local map_lt_15 = {a=1, b=2}; local map_big = {}; for i=1, 100000 do map_big[tostring(i)] = i end; local some_map = { s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000, i10=-3147483648, a1=array_lt_15, a2=array_lt_65535, a3=array_big, m1=map_lt_15, m2=map_big, b1=false, b2=true, n=nil }; local encoded = cmsgpack.pack(some_map); local decoded = cmsgpack.unpack(encoded); assert(table.concat(some_map) == table.concat(decoded)); local offset, decoded_one = cmsgpack.unpack_one(encoded, 0); assert(table.concat(some_map) == table.concat(decoded_one)); assert(offset == -1); local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long); local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0); assert(obj == str_lt_32); offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset); assert(obj == str_lt_255); offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset); assert(obj == str_lt_65535); offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset); assert(obj == str_long); assert(offset == -1); return #encoded, decoded.m2['777'], #decoded.a3"#,
            r#"4: true | 1491977 | 777 | 100000"#,
        ),
        (
            r#"local a = {x=nil,y=5}; local b = {x=a}; a['x'] = b; local encoded = cmsgpack.pack(a); local re = cmsgpack.unpack(encoded); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x); assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil); return re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5"#,
            r#"3: true | true | true"#,
        ),
        (
            r#"return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION"#,
            r#"5: true | "cmsgpack" | "lua-cmsgpack 0.4.0" | "Copyright (C) 2012, Salvatore Sanfilippo" | "MessagePack C implementation for Lua""#,
        ),
        (
            r#"local f = cmsgpack.pack; return f()"#,
            r#"2: false | "user_script:27: bad argument #0 to 'f' (MessagePack pack needs input.)""#,
        ),
        (
            r#"return cmsgpack:pack()"#,
            r#"2: true | "\136\172_DESCRIPTION\217$MessagePack C implementation for Lua\164pack\192\165_NAME\168cmsgpack\166unpack\192\170_COPYRIGHT\217(Copyright (C) 2012, Salvatore Sanfilippo\168_VERSION\178lua-cmsgpack 0.4.0\170unpack_one\192\172unpack_limit\192""#,
        ),
        (
            r#"return cmsgpack.unpack('\1\2\3', 'x')"#,
            r#"4: true | 1 | 2 | 3"#,
        ),
        (
            r#"local t = setmetatable({}, {__index = function(t, k) return 'meta' end}); t[1] = 1; t[3] = 3; return cjson.encode(t), hex(cmsgpack.pack(t))"#,
            r#"3: true | "[1,null,3]" | "8201010303""#,
        ),
        (
            r#"local t = setmetatable({1, 2}, {__index = function(t, k) return 'meta' end}); return hex(cmsgpack.pack(t))"#,
            r#"2: true | "920102""#,
        ),
        (
            r#"local t = {}; for i = 1, 200 do t[i] = {i, {tostring(i)}, {x = i}} end; local s = cmsgpack.pack(t); local d = cmsgpack.unpack(s); return #s, d[100][2][1], d[200][3].x, cmsgpack.pack(d) == s"#,
            r#"5: true | 2241 | "100" | 200 | true"#,
        ),
        (
            r#"return cmsgpack.unpack('\222\0\3\161a\1\161b\2\161c\3')"#,
            r#"2: true | {["a"]=1,["c"]=3,["b"]=2}"#,
        ),
        (
            r#"return cmsgpack.unpack('\129\145\1\2')"#,
            r#"2: true | {[{[1]=1}]=2}"#,
        ),
        (
            r#"return cmsgpack.unpack('\129\129\1\2\3')"#,
            r#"2: true | {[{[1]=2}]=3}"#,
        ),
        (
            r#"return cmsgpack.unpack('\144\128\144')"#,
            r#"4: true | {} | {} | {}"#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2\3\4', 2, 1)"#,
            r#"4: true | 3 | 2 | 3"#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2\3\4', 5, 0)"#,
            r#"6: true | -1 | 1 | 2 | 3 | 4"#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2\3\4', 1, 3)"#,
            r#"3: true | -1 | 4"#,
        ),
        (r#"return cmsgpack.unpack_one('\1', 1)"#, r#"2: true | -1"#),
        (r#"return cmsgpack.unpack_one('', 0)"#, r#"2: true | -1"#),
        (r#"return cmsgpack.unpack_limit('', 1)"#, r#"2: true | -1"#),
        (
            r#"return cmsgpack.unpack_one('\1\2', 2^32 + 1)"#,
            r#"2: false | "user_script:27: Start offset 1 greater than input length 2.""#,
        ),
        (
            r#"return cmsgpack.unpack_one('\1\2', -2^32 - 1)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of -1 and limit of 2.""#,
        ),
        (
            r#"return cmsgpack.unpack_limit('\1\2', -2^32)"#,
            r#"2: false | "user_script:27: Invalid request to unpack with offset of 0 and limit of 2.""#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return cmsgpack.unpack(cmsgpack.pack(s)) == s, hex(cmsgpack.pack(s):sub(1, 6)), hex(cmsgpack.pack({[s] = s}):sub(1, 4))"#,
            r#"4: true | true | "da0100000102" | "81da0100""#,
        ),
        (
            r#"return cmsgpack.unpack('\163\0\255\1', '\196')"#,
            r#"2: true | "\000\255\001""#,
        ),
        (
            r#"local co = coroutine.wrap(function() return select('#', cmsgpack.unpack(string.rep('\1', 7999))) end); return co()"#,
            r#"2: true | 7999"#,
        ),
    ];
}

mod structlib {
    use super::testing::check_cases;

    /// Everything below, compared with what Redis 7.0 answered.
    #[test]
    fn matches_redis() {
        check_cases(CASES);
    }

    /// Snippets run through `EVAL "<prelude> return run(function() <snippet> end)" 0`
    /// on Redis 7.0.15, and what it answered.
    const CASES: &[(&str, &str)] = &[
        (
            r#"local ks = {}; for k, v in pairs(struct) do ks[#ks+1] = k end; return table.concat(ks, ',')"#,
            r#"2: true | "pack,size,unpack""#,
        ),
        (
            r#"return hex(struct.pack('>i', 1)), hex(struct.pack('<i', 1)), hex(struct.pack('i', -2)), hex(struct.pack('b', -1)), hex(struct.pack('B', 255)), hex(struct.pack('h', -2)), hex(struct.pack('>H', 65535)), hex(struct.pack('l', -1)), hex(struct.pack('T', 5))"#,
            r#"10: true | "00000001" | "01000000" | "feffffff" | "ff" | "ff" | "feff" | "ffff" | "ffffffffffffffff" | "0500000000000000""#,
        ),
        (
            r#"return hex(struct.pack('>L', 2^64)), hex(struct.pack('>L', 2^63)), hex(struct.pack('>l', 0/0)), hex(struct.pack('>L', -1)), hex(struct.pack('>L', 1/0)), hex(struct.pack('>l', -1/0)), hex(struct.pack('>L', 2^64 + 2^20)), hex(struct.pack('>l', -2^63)), hex(struct.pack('>l', -2^64))"#,
            r#"10: true | "0000000000000000" | "8000000000000000" | "8000000000000000" | "ffffffffffffffff" | "0000000000000000" | "8000000000000000" | "0000000000000000" | "8000000000000000" | "8000000000000000""#,
        ),
        (
            r#"return hex(struct.pack('>i3', 0x123456)), hex(struct.pack('<i3', 0x123456)), hex(struct.pack('>i16', -1)), hex(struct.pack('<I16', 1)), hex(struct.pack('>i0', 5)), hex(struct.pack('B', 256)), hex(struct.pack('b', 1.9)), hex(struct.pack('b', -1.9))"#,
            r#"9: true | "123456" | "563412" | "0000000000000000ffffffffffffffff" | "01000000000000000000000000000000" | "" | "00" | "01" | "ff""#,
        ),
        (
            r#"return hex(struct.pack('s', 'ab\0c')), hex(struct.pack('c3', 'abcdef')), hex(struct.pack('c0', 'xyz')), hex(struct.pack('c', 'xyz'))"#,
            r#"5: true | "6162006300" | "616263" | "78797a" | "78""#,
        ),
        (
            r#"return struct.pack('c5', 'ab')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'pack' (string too short)""#,
        ),
        (
            r#"return struct.pack('b c5', 1, 'ab')"#,
            r#"2: false | "user_script:27: bad argument #4 to 'pack' (string too short)""#,
        ),
        (
            r#"return hex(struct.pack('f', 1.5)), hex(struct.pack('>f', 1.5)), hex(struct.pack('>d', 0.1)), hex(struct.pack('<d', 0.1)), hex(struct.pack('f', 1e300)), hex(struct.pack('>f', 0.1))"#,
            r#"7: true | "0000c03f" | "3fc00000" | "3fb999999999999a" | "9a9999999999b93f" | "0000807f" | "3dcccccd""#,
        ),
        (
            r#"return hex(struct.pack('!4 b i', 1, 2)), hex(struct.pack('! b d', 1, 2)), hex(struct.pack('!2 b i', 1, 2)), hex(struct.pack('!8 b h b l', 1, 2, 3, 4)), hex(struct.pack('!8 b i3', 1, 2)), hex(struct.pack('!8 b c3 i', 1, 'abc', 2)), hex(struct.pack('!8 b s i', 1, 'ab', 2))"#,
            r#"8: true | "0100000002000000" | "01000000000000000000000000000040" | "010002000000" | "01000200030000000400000000000000" | "010000020000" | "0161626302000000" | "0161620002000000""#,
        ),
        (
            r#"return hex(struct.pack('x b x', 1)), hex(struct.pack(' b ', 1)), hex(struct.pack('b\0i', 1, 2)), hex(struct.pack('<>b', 1)), hex(struct.pack(''))"#,
            r#"6: true | "000100" | "01" | "01" | "01" | """#,
        ),
        (
            r#"return struct.pack('q', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option 'q')""#,
        ),
        (
            r#"return struct.pack('i33', 1)"#,
            r#"2: false | "user_script:27: integral size 33 is larger than limit of 32""#,
        ),
        (
            r#"return struct.pack('!3 b', 1)"#,
            r#"2: false | "user_script:27: alignment 3 is not a power of 2""#,
        ),
        (
            r#"return struct.pack('!0 b', 1)"#,
            r#"2: false | "user_script:27: alignment 0 is not a power of 2""#,
        ),
        (
            r#"return struct.pack('i99999999999', 1)"#,
            r#"2: false | "user_script:27: integral size overflow""#,
        ),
        (
            r#"return struct.pack('c99999999999', 1)"#,
            r#"2: false | "user_script:27: integral size overflow""#,
        ),
        (
            r#"return struct.pack('b5', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option '5')""#,
        ),
        (
            r#"return struct.pack('b', 'x')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'pack' (number expected, got string)""#,
        ),
        (
            r#"return struct.pack('b')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'pack' (number expected, got nil)""#,
        ),
        (
            r#"return struct.pack()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (string expected, got no value)""#,
        ),
        (
            r#"return struct.pack(5)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option '5')""#,
        ),
        (r#"return struct.pack('s', 12)"#, r#"2: true | "12\000""#),
        (
            r#"return struct.pack('s', {})"#,
            r#"2: false | "user_script:27: bad argument #2 to 'pack' (string expected, got table)""#,
        ),
        (
            r#"return struct.pack('\200', 1)"#,
            r#"2: false | "user_script:27: bad argument #1 to 'pack' (invalid format option '\200')""#,
        ),
        (
            r#"return hex(struct.pack('b', '0x10')), hex(struct.pack('d', '1.5'))"#,
            r#"3: true | "10" | "000000000000f83f""#,
        ),
        (
            r#"return struct.unpack('>i', '\0\0\0\1'), struct.unpack('b', '\255'), struct.unpack('B', '\255'), struct.unpack('<h', '\254\255'), struct.unpack('>H', '\254\255')"#,
            r#"7: true | 1 | -1 | 255 | -2 | 65279 | 3"#,
        ),
        (
            r#"return struct.unpack('s', 'ab\0cd')"#,
            r#"3: true | "ab" | 4"#,
        ),
        (
            r#"return struct.unpack('s', 'abc')"#,
            r#"2: false | "user_script:27: unfinished string in data""#,
        ),
        (
            r#"return struct.unpack('c2', 'abc')"#,
            r#"3: true | "ab" | 3"#,
        ),
        (
            r#"return struct.unpack('b c0', '\3abcde')"#,
            r#"3: true | "abc" | 5"#,
        ),
        (
            r#"return struct.unpack('c0', 'abc')"#,
            r#"2: false | "user_script:27: format 'c0' needs a previous size""#,
        ),
        (
            r#"return struct.unpack('c1c0', '2abc')"#,
            r#"3: true | "ab" | 4"#,
        ),
        (
            r#"return struct.unpack('c1c0', 'xabc')"#,
            r#"2: false | "user_script:27: format 'c0' needs a previous size""#,
        ),
        (
            r#"return struct.unpack('b c0', '\255abc')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('i', 'ab')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('b', 'ab', 2)"#,
            r#"3: true | 98 | 3"#,
        ),
        (
            r#"return struct.unpack('b', 'ab', 3)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('b', 'ab', 0)"#,
            r#"2: false | "user_script:27: bad argument #3 to 'unpack' (offset must be 1 or greater)""#,
        ),
        (r#"return struct.unpack('', 'abc', -5)"#, r#"2: true | -5"#),
        (
            r#"return struct.unpack('b', 'abc', -1)"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('b', 'abc', 2.7)"#,
            r#"3: true | 98 | 3"#,
        ),
        (
            r#"return struct.unpack('f', struct.pack('f', 1.5)), struct.unpack('>d', struct.pack('>d', 0.1)), struct.unpack('>f', struct.pack('>f', 0.1))"#,
            r#"5: true | 1.5 | 0.10000000000000001 | 0.10000000149011612 | 5"#,
        ),
        (
            r#"return struct.unpack('i16', string.rep('\255', 16)), struct.unpack('I9', string.rep('\255', 9)), struct.unpack('>i9', '\0' .. string.rep('\255', 8)), struct.unpack('<i9', string.rep('\255', 8) .. '\0'), struct.unpack('I8', string.rep('\255', 8)), struct.unpack('i8', '\0\0\0\0\0\0\0\128'), struct.unpack('i0', '')"#,
            r#"9: true | -1 | 1.8446744073709552e+19 | -1 | -1 | 1.8446744073709552e+19 | -9.2233720368547758e+18 | 0 | 1"#,
        ),
        (
            r#"return struct.unpack('!8 b d', struct.pack('!8 b d', 1, 2.5))"#,
            r#"4: true | 1 | 2.5 | 17"#,
        ),
        (
            r#"return struct.unpack('!4 b i b i', struct.pack('!4 b i b i', 1, 2, 3, 4))"#,
            r#"6: true | 1 | 2 | 3 | 4 | 17"#,
        ),
        (
            r#"return struct.unpack('x b x', '\0\7\0')"#,
            r#"3: true | 7 | 4"#,
        ),
        (
            r#"return struct.unpack('x b x', '\0\7')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (data string too short)""#,
        ),
        (
            r#"return struct.unpack('q', 'abc')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (invalid format option 'q')""#,
        ),
        (
            r#"return struct.unpack('b')"#,
            r#"2: false | "user_script:27: bad argument #2 to 'unpack' (string expected, got no value)""#,
        ),
        (
            r#"return struct.unpack()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'unpack' (string expected, got no value)""#,
        ),
        (
            r#"return struct.unpack('b', 'a', 'x')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'unpack' (number expected, got string)""#,
        ),
        (
            r#"return struct.unpack('>l', '\128\0\0\0\0\0\0\0'), struct.unpack('>L', '\128\0\0\0\0\0\0\0'), struct.unpack('>L', '\255\255\255\255\255\255\255\255')"#,
            r#"5: true | -9.2233720368547758e+18 | 9.2233720368547758e+18 | 1.8446744073709552e+19 | 9"#,
        ),
        (
            r#"return struct.size('i'), struct.size('!8 b d'), struct.size('q'), struct.size('c5'), struct.size('>l h'), struct.size('!'), struct.size(''), struct.size('5'), struct.size('i3 i3'), struct.size('!4 i3 b i3'), struct.size('x'), struct.size('T')"#,
            r#"13: true | 4 | 16 | 0 | 5 | 10 | 0 | 0 | 0 | 6 | 9 | 1 | 8"#,
        ),
        (
            r#"return struct.size('s')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (option 's' has no fixed size)""#,
        ),
        (
            r#"return struct.size('c0')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (option 'c0' has no fixed size)""#,
        ),
        (
            r#"return struct.size('!3')"#,
            r#"2: false | "user_script:27: alignment 3 is not a power of 2""#,
        ),
        (
            r#"return struct.size('%')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (invalid format option '%')""#,
        ),
        (
            r#"return struct.size()"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (string expected, got no value)""#,
        ),
        (
            r#"return struct.size('b s')"#,
            r#"2: false | "user_script:27: bad argument #1 to 'size' (option 's' has no fixed size)""#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7990), string.rep('a', 7990)))"#,
            r#"2: true | 7991"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7995), string.rep('a', 7995)))"#,
            r#"2: true | 7996"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7996), string.rep('a', 7996)))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 7997)))"#,
            r#"2: true | 7998"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7998), string.rep('a', 7998)))"#,
            r#"2: false | "user_script:27: stack overflow (too many results)""#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('b', 7996), string.rep('a', 7996), 1))"#,
            r#"2: true | 7997"#,
        ),
        (
            r#"return select('#', struct.unpack(string.rep('x', 9000) .. 'b', string.rep('a', 9001)))"#,
            r#"2: true | 2"#,
        ),
        (
            r#"local t = {}; for i = 1, 7000 do t[i] = 'z' .. i end; return #struct.pack(string.rep('s', 7000), unpack(t))"#,
            r#"2: true | 40893"#,
        ),
        (
            r#"return struct.pack('>I2', 65536 + 258), struct.unpack('<I2', 'ab')"#,
            r#"4: true | "\001\002" | 25185 | 3"#,
        ),
        (
            r#"return struct.unpack('!8 b T', struct.pack('!8 b T', 1, 2^40))"#,
            r#"4: true | 1 | 1099511627776 | 17"#,
        ),
        (
            r#"return struct.pack('c0 b', 'ab')"#,
            r#"2: false | "user_script:27: bad argument #3 to 'pack' (number expected, got nil)""#,
        ),
        (r#"return struct.pack('s', '')"#, r#"2: true | "\000""#),
        (
            r#"return hex(struct.pack('b b b', 1, 2, 3)), struct.pack('b b b', 1, 2)"#,
            r#"2: false | "user_script:27: bad argument #4 to 'pack' (number expected, got nil)""#,
        ),
        (
            r#"return struct.size('!4 i3 b i3'), struct.size('!2 d b'), struct.size('!16 b d')"#,
            r#"4: true | 9 | 9 | 16"#,
        ),
        (
            r#"local s = ''; for i = 0, 255 do s = s .. string.char(i) end; return struct.unpack('c256', s) == s, struct.unpack('>I4', s, 253), hex(struct.pack('c0', s):sub(250))"#,
            r#"4: true | true | 4244504319 | "f9fafbfcfdfeff""#,
        ),
        (
            r#"return hex(struct.pack('s c2', '\255\0\1', '\0\254')), struct.unpack('s', '\255\254\0')"#,
            r#"4: true | "ff00010000fe" | "\255\254" | 4"#,
        ),
        (
            r#"local ok, e = pcall(struct.unpack, 'b', 'ab', 0); return e"#,
            r#"2: true | "bad argument #3 to '?' (offset must be 1 or greater)""#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = 'a' end; return select('#', struct.unpack(string.rep('c1', 40), table.concat(t)))"#,
            r#"2: true | 41"#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = i end; local ok, e = pcall(struct.pack, 'b', unpack(t)); return ok, hex(e)"#,
            r#"3: true | true | "01""#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = i end; t[41] = 'x'; return struct.pack(string.rep('b', 41), unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #42 to 'pack' (number expected, got string)""#,
        ),
        (
            r#"local t = {}; for i = 1, 40 do t[i] = i end; return struct.pack(string.rep('b', 41), unpack(t))"#,
            r#"2: false | "user_script:27: bad argument #42 to 'pack' (number expected, got nil)""#,
        ),
    ];
}
