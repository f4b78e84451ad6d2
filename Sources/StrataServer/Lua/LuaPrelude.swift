/// Lua source run when an interpreter is created: the libraries Redis gives scripts (bit,
/// cjson, cmsgpack, struct, written here in Lua over the system Lua 5.1), then the sandbox.
enum LuaPrelude {
    static let libraries = #"""
local floor, fmod, huge, frexp, ldexp = math.floor, math.fmod, math.huge, math.frexp, math.ldexp
local schar, sbyte, sformat, ssub, srep = string.char, string.byte, string.format, string.sub, string.rep
local tconcat, type, pairs, tostring, tonumber, error, select = table.concat, type, pairs, tostring, tonumber, error, select

-- bit: LuaBitOp's API on 32-bit signed results.
local TWO32, TWO31 = 4294967296, 2147483648
local function tobit(x)
  x = tonumber(x) or error("bad argument #1 (number expected)", 2)
  if x ~= floor(x) then x = floor(x + 0.5) end
  x = x % TWO32
  if x >= TWO31 then x = x - TWO32 end
  return x
end
local function u32(x) return tobit(x) % TWO32 end
local function bitop(a, b, f)
  a, b = u32(a), u32(b)
  local r, v = 0, 1
  for _ = 1, 32 do
    local x, y = a % 2, b % 2
    if f(x, y) then r = r + v end
    a, b, v = (a - x) / 2, (b - y) / 2, v * 2
  end
  return tobit(r)
end
local function fold(f)
  return function(a, ...)
    local r = tobit(a)
    for i = 1, select('#', ...) do r = bitop(r, select(i, ...), f) end
    return r
  end
end
bit = {
  tobit = tobit,
  bnot = function(x) return tobit(4294967295 - u32(x)) end,
  band = fold(function(x, y) return x == 1 and y == 1 end),
  bor = fold(function(x, y) return x == 1 or y == 1 end),
  bxor = fold(function(x, y) return x ~= y end),
  lshift = function(x, n) return tobit(u32(x) * 2 ^ (tobit(n) % 32)) end,
  rshift = function(x, n) return tobit(floor(u32(x) / 2 ^ (tobit(n) % 32))) end,
  arshift = function(x, n) return tobit(floor(tobit(x) / 2 ^ (tobit(n) % 32))) end,
  rol = function(x, n) n = tobit(n) % 32; x = u32(x); return tobit(x * 2 ^ n + floor(x / 2 ^ (32 - n))) end,
  ror = function(x, n) n = tobit(n) % 32; x = u32(x); return tobit(floor(x / 2 ^ n) + x * 2 ^ (32 - n)) end,
  bswap = function(x)
    x = u32(x)
    local b0, b1, b2, b3 = x % 256, floor(x / 256) % 256, floor(x / 65536) % 256, floor(x / 16777216)
    return tobit(((b0 * 256 + b1) * 256 + b2) * 256 + b3)
  end,
  tohex = function(x, n)
    n = n or 8
    local upper = n < 0
    if upper then n = -n end
    local s = sformat(upper and "%08X" or "%08x", u32(x))
    return ssub(s, 9 - (n > 8 and 8 or n))
  end,
}

-- cjson: lua-cjson's encode/decode (numbers as %.14g, '/' escaped, sparse arrays refused).
local json_null = {}
local json_cfg = {encode_max_depth = 1000, decode_max_depth = 1000, encode_invalid_numbers = false}
local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function escape_char(c) return escapes[c] or sformat("\\u%04x", sbyte(c)) end
local function encode_string(s) return '"' .. s:gsub('[%c"\\/\127]', escape_char) .. '"' end
local encode_value
local function array_length(t)
  local max, n = 0, 0
  for k in pairs(t) do
    if type(k) == "number" and k > 0 and k == floor(k) then
      if k > max then max = k end
      n = n + 1
    else
      return -1
    end
  end
  if max > 10 and max > n * 2 then
    error("Cannot serialise table: excessively sparse array", 0)
  end
  return max
end
encode_value = function(v, depth, out)
  local t = type(v)
  if t == "string" then out[#out + 1] = encode_string(v)
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then
      if not json_cfg.encode_invalid_numbers then error("Cannot serialise number: must not be NaN or Inf", 0) end
      out[#out + 1] = (v ~= v) and "nan" or (v > 0 and "inf" or "-inf")
    else
      out[#out + 1] = sformat("%.14g", v)
    end
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "nil" or v == json_null or (t == "userdata" and v == cjson.null) then out[#out + 1] = "null"
  elseif t == "table" then
    if depth > json_cfg.encode_max_depth then error("Cannot serialise, excessive nesting (" .. depth .. ")", 0) end
    local n = array_length(v)
    if n > 0 then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode_value(v[i], depth + 1, out)
      end
      out[#out + 1] = "]"
    else
      out[#out + 1] = "{"
      local first = true
      for k, x in pairs(v) do
        local kt = type(k)
        if kt ~= "string" and kt ~= "number" then error("Cannot serialise table: table key must be a number or string", 0) end
        if not first then out[#out + 1] = "," end
        first = false
        out[#out + 1] = encode_string(kt == "number" and sformat("%.14g", k) or k)
        out[#out + 1] = ":"
        encode_value(x, depth + 1, out)
      end
      out[#out + 1] = "}"
    end
  else
    error("Cannot serialise " .. t .. ": type not supported", 0)
  end
end

local tokens = { [","] = "T_COMMA", ["]"] = "T_ARR_END", ["}"] = "T_OBJ_END", [":"] = "T_COLON", ["["] = "T_ARR_BEGIN", ["{"] = "T_OBJ_BEGIN" }
local function decode_error(what, s, i)
  local c = ssub(s, i, i)
  local found = (i > #s) and "T_END" or (tokens[c] or "invalid token")
  error("Expected " .. what .. " but found " .. found .. " at character " .. i, 0)
end
-- Library errors carry the position of the script line that called the library, as
-- luaL_error gives Redis's C libraries: the function runs under a C trampoline (so a tail
-- call from the script keeps the script's frame) and re-raises at the script's level.
local cwrap = __strata_cwrap
local function positioned(f)
  return cwrap(function(...)
    local res = { pcall(f, ...) }
    if not res[1] then error(res[2], 3) end
    return unpack(res, 2, table.maxn(res))
  end)
end
local function skip(s, i)
  local _, e = s:find("^[ \n\r\t]*", i)
  return e + 1
end
local function utf8(cp)
  if cp < 0x80 then return schar(cp)
  elseif cp < 0x800 then return schar(0xC0 + floor(cp / 64), 0x80 + cp % 64)
  elseif cp < 0x10000 then return schar(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  else return schar(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64) end
end
local decode_value
local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local c = ssub(s, j, j)
    if c == "" then error("Expected value but found unexpected end of string at character " .. j, 0) end
    if c == '"' then return tconcat(out), j + 1 end
    if c == "\\" then
      local e = ssub(s, j + 1, j + 1)
      local map = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
      if map[e] then out[#out + 1] = map[e]; j = j + 2
      elseif e == "u" then
        local cp = tonumber(ssub(s, j + 2, j + 5), 16)
        if not cp then error("Expected value but found invalid unicode escape code at character " .. j, 0) end
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and ssub(s, j, j + 1) == "\\u" then
          local lo = tonumber(ssub(s, j + 2, j + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00); j = j + 6 end
        end
        out[#out + 1] = utf8(cp)
      else error("Expected value but found invalid escape code at character " .. j, 0) end
    else
      out[#out + 1] = c; j = j + 1
    end
  end
end
decode_value = function(s, i, depth)
  i = skip(s, i)
  local c = ssub(s, i, i)
  if (c == "{" or c == "[") and depth > json_cfg.decode_max_depth then error("Found too many nested data structures (" .. depth .. ") at character " .. i, 0) end
  if c == "{" then
    local t = {}
    i = skip(s, i + 1)
    if ssub(s, i, i) == "}" then return t, i + 1 end
    while true do
      i = skip(s, i)
      if ssub(s, i, i) ~= '"' then decode_error("object key string", s, i) end
      local k; k, i = decode_string(s, i)
      i = skip(s, i)
      if ssub(s, i, i) ~= ":" then decode_error("colon", s, i) end
      local v; v, i = decode_value(s, i + 1, depth + 1)
      t[k] = v
      i = skip(s, i)
      local d = ssub(s, i, i)
      if d == "}" then return t, i + 1 end
      if d ~= "," then decode_error("comma or object end", s, i) end
      i = i + 1
    end
  elseif c == "[" then
    local t, n = {}, 0
    i = skip(s, i + 1)
    if ssub(s, i, i) == "]" then return t, i + 1 end
    while true do
      local v; v, i = decode_value(s, i, depth + 1)
      n = n + 1; t[n] = v
      i = skip(s, i)
      local d = ssub(s, i, i)
      if d == "]" then return t, i + 1 end
      if d ~= "," then decode_error("comma or array end", s, i) end
      i = i + 1
    end
  elseif c == '"' then return decode_string(s, i)
  elseif ssub(s, i, i + 3) == "true" then return true, i + 4
  elseif ssub(s, i, i + 4) == "false" then return false, i + 5
  elseif ssub(s, i, i + 3) == "null" then return cjson.null, i + 4
  else
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if num and num ~= "" and tonumber(num) then return tonumber(num), i + #num end
    decode_error("value", s, i)
  end
end
cjson = {
  encode = positioned(function(v)
    local out = {}
    encode_value(v, 1, out)
    return tconcat(out)
  end),
  decode = positioned(function(s)
    if type(s) ~= "string" then error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")", 0) end
    local v, i = decode_value(s, 1, 1)
    i = skip(s, i)
    if i <= #s then decode_error("the end", s, i) end
    return v
  end),
  encode_keep_buffer = function() end,
  encode_max_depth = function(n) if n then json_cfg.encode_max_depth = n end return json_cfg.encode_max_depth end,
  decode_max_depth = function(n) if n then json_cfg.decode_max_depth = n end return json_cfg.decode_max_depth end,
  encode_number_precision = function() return 14 end,
  encode_sparse_array = function() end,
  encode_invalid_numbers = function(v) if v ~= nil then json_cfg.encode_invalid_numbers = v and true or false end return json_cfg.encode_invalid_numbers end,
  decode_invalid_numbers = function() end,
}

-- cmsgpack: MessagePack as lua-cmsgpack packs it (integers in the smallest form, floats as
-- float when exact, tables as arrays when their keys are 1..n).
local function be(n, bytes)
  local t = {}
  for k = bytes, 1, -1 do t[k] = schar(n % 256); n = floor(n / 256) end
  return tconcat(t)
end
local function pack_double(d)
  if d ~= d then return "\203" .. "\127\248\0\0\0\0\0\0" end
  if d == huge then return "\203\127\240\0\0\0\0\0\0" end
  if d == -huge then return "\203\255\240\0\0\0\0\0\0" end
  local sign = 0
  if d < 0 or (d == 0 and 1 / d < 0) then sign = 1; d = -d end
  local m, e = frexp(d)
  local exp, frac
  if d == 0 then exp, frac = 0, 0
  elseif e + 1022 <= 0 then exp = 0; frac = ldexp(m, e + 1074)
  else exp = e + 1022; frac = (m * 2 - 1) * 2 ^ 52 end
  local hi = sign * 2 ^ 31 + exp * 2 ^ 20 + floor(frac / 2 ^ 32)
  local lo = frac % 2 ^ 32
  return "\203" .. be(hi, 4) .. be(lo, 4)
end
local function pack_float(d)
  local sign = 0
  if d < 0 or (d == 0 and 1 / d < 0) then sign = 1; d = -d end
  local m, e = frexp(d)
  local exp, frac
  if d == 0 then exp, frac = 0, 0
  elseif e + 126 <= 0 then exp = 0; frac = ldexp(m, e + 149)
  else exp = e + 126; frac = (m * 2 - 1) * 2 ^ 23 end
  return "\202" .. be(sign * 2 ^ 31 + exp * 2 ^ 23 + frac, 4)
end
local function is_float32(d)
  if d ~= d or d == huge or d == -huge then return false end
  local m, e = frexp(d)
  if e > 128 or e < -125 then return false end
  return floor(m * 2 ^ 24) == m * 2 ^ 24
end
local mp_pack
mp_pack = function(v, depth, out)
  local t = type(v)
  -- lua-cmsgpack: a table at the 16th level of nesting is packed as nil.
  if t == "nil" or (t == "table" and depth > 16) then out[#out + 1] = "\192"
  elseif t == "boolean" then out[#out + 1] = v and "\195" or "\194"
  elseif t == "number" then
    if v == floor(v) and v >= -2 ^ 63 and v < 2 ^ 64 then
      if v >= 0 then
        if v < 128 then out[#out + 1] = schar(v)
        elseif v < 256 then out[#out + 1] = "\204" .. schar(v)
        elseif v < 65536 then out[#out + 1] = "\205" .. be(v, 2)
        elseif v < 4294967296 then out[#out + 1] = "\206" .. be(v, 4)
        else out[#out + 1] = "\207" .. be(v, 8) end
      else
        if v >= -32 then out[#out + 1] = schar(256 + v)
        elseif v >= -128 then out[#out + 1] = "\208" .. schar(256 + v)
        elseif v >= -32768 then out[#out + 1] = "\209" .. be(65536 + v, 2)
        elseif v >= -2147483648 then out[#out + 1] = "\210" .. be(4294967296 + v, 4)
        else out[#out + 1] = "\211" .. be(2 ^ 64 + v, 8) end
      end
    elseif is_float32(v) then out[#out + 1] = pack_float(v)
    else out[#out + 1] = pack_double(v) end
  elseif t == "string" then
    local n = #v
    if n < 32 then out[#out + 1] = schar(0xa0 + n)
    elseif n < 256 then out[#out + 1] = "\217" .. schar(n)
    elseif n < 65536 then out[#out + 1] = "\218" .. be(n, 2)
    else out[#out + 1] = "\219" .. be(n, 4) end
    out[#out + 1] = v
  elseif t == "table" then
    local count, max, isarray = 0, 0, true
    for k in pairs(v) do
      count = count + 1
      if type(k) ~= "number" or k <= 0 or k ~= floor(k) then isarray = false elseif k > max then max = k end
    end
    if isarray and max ~= count then isarray = false end
    if isarray then
      if count < 16 then out[#out + 1] = schar(0x90 + count)
      elseif count < 65536 then out[#out + 1] = "\220" .. be(count, 2)
      else out[#out + 1] = "\221" .. be(count, 4) end
      for i = 1, count do mp_pack(v[i], depth + 1, out) end
    else
      if count < 16 then out[#out + 1] = schar(0x80 + count)
      elseif count < 65536 then out[#out + 1] = "\222" .. be(count, 2)
      else out[#out + 1] = "\223" .. be(count, 4) end
      for k, x in pairs(v) do mp_pack(k, depth + 1, out); mp_pack(x, depth + 1, out) end
    end
  else
    out[#out + 1] = "\192"
  end
end
local function rd(s, i, n)
  if i + n - 1 > #s then error("Missing bytes in input.", 0) end
  local v = 0
  for k = i, i + n - 1 do v = v * 256 + sbyte(s, k) end
  return v, i + n
end
local function signed(v, bits) if v >= 2 ^ (bits - 1) then return v - 2 ^ bits end return v end
local function unpack_float(v)
  local sign = v >= 2 ^ 31 and -1 or 1
  local exp, frac = floor(v / 2 ^ 23) % 256, v % 2 ^ 23
  if exp == 255 then return frac == 0 and sign * huge or 0 / 0 end
  if exp == 0 then return sign * ldexp(frac, -149) end
  return sign * ldexp(1 + frac / 2 ^ 23, exp - 127)
end
local function unpack_double(hi, lo)
  local sign = hi >= 2 ^ 31 and -1 or 1
  local exp = floor(hi / 2 ^ 20) % 2048
  local frac = (hi % 2 ^ 20) * 2 ^ 32 + lo
  if exp == 2047 then return frac == 0 and sign * huge or 0 / 0 end
  if exp == 0 then return sign * ldexp(frac, -1074) end
  return sign * ldexp(1 + frac / 2 ^ 52, exp - 1023)
end
local mp_unpack
mp_unpack = function(s, i)
  if i > #s then error("Missing bytes in input.", 0) end
  local c = sbyte(s, i); i = i + 1
  if c < 0x80 then return c, i end
  if c >= 0xe0 then return c - 256, i end
  if c >= 0xa0 and c < 0xc0 then local n = c - 0xa0; if i + n - 1 > #s then error("Missing bytes in input.", 0) end return ssub(s, i, i + n - 1), i + n end
  if c >= 0x90 and c < 0xa0 then local t = {}; for k = 1, c - 0x90 do t[k], i = mp_unpack(s, i) end return t, i end
  if c >= 0x80 and c < 0x90 then local t = {}; for _ = 1, c - 0x80 do local k, x; k, i = mp_unpack(s, i); x, i = mp_unpack(s, i); if k ~= nil then t[k] = x end end return t, i end
  if c == 0xc0 then return nil, i end
  if c == 0xc2 then return false, i end
  if c == 0xc3 then return true, i end
  if c == 0xca then local v; v, i = rd(s, i, 4); return unpack_float(v), i end
  if c == 0xcb then local hi, lo; hi, i = rd(s, i, 4); lo, i = rd(s, i, 4); return unpack_double(hi, lo), i end
  if c == 0xcc then return rd(s, i, 1) end
  if c == 0xcd then return rd(s, i, 2) end
  if c == 0xce then return rd(s, i, 4) end
  if c == 0xcf then return rd(s, i, 8) end
  if c == 0xd0 then local v; v, i = rd(s, i, 1); return signed(v, 8), i end
  if c == 0xd1 then local v; v, i = rd(s, i, 2); return signed(v, 16), i end
  if c == 0xd2 then local v; v, i = rd(s, i, 4); return signed(v, 32), i end
  if c == 0xd3 then local v; v, i = rd(s, i, 8); return signed(v, 64), i end
  if c == 0xd9 or c == 0xda or c == 0xdb or c == 0xc4 or c == 0xc5 or c == 0xc6 then
    local w = (c == 0xd9 or c == 0xc4) and 1 or ((c == 0xda or c == 0xc5) and 2 or 4)
    local n; n, i = rd(s, i, w)
    if i + n - 1 > #s then error("Missing bytes in input.", 0) end
    return ssub(s, i, i + n - 1), i + n
  end
  if c == 0xdc or c == 0xdd then
    local n; n, i = rd(s, i, c == 0xdc and 2 or 4)
    local t = {}; for k = 1, n do t[k], i = mp_unpack(s, i) end return t, i
  end
  if c == 0xde or c == 0xdf then
    local n; n, i = rd(s, i, c == 0xde and 2 or 4)
    local t = {}; for _ = 1, n do local k, x; k, i = mp_unpack(s, i); x, i = mp_unpack(s, i); if k ~= nil then t[k] = x end end return t, i
  end
  error("Bad data format in input.", 0)
end
local function mp_unpack_all(s, limit, offset)
  local out, n, i = {}, 0, (offset or 0) + 1
  while i <= #s and (limit == 0 or n < limit) do
    n = n + 1
    out[n], i = mp_unpack(s, i)
  end
  return out, n, i
end
cmsgpack = {
  pack = positioned(function(...)
    local n = select('#', ...)
    if n == 0 then error("MessagePack pack needs input.", 0) end
    local out = {}
    for k = 1, n do mp_pack((select(k, ...)), 1, out) end
    return tconcat(out)
  end),
  unpack = positioned(function(s)
    local out, n = mp_unpack_all(s, 0, 0)
    return unpack(out, 1, n)
  end),
  unpack_one = function(s, offset)
    local out, n, i = mp_unpack_all(s, 1, offset or 0)
    return (i > #s) and -1 or i - 1, unpack(out, 1, n)
  end,
  unpack_limit = function(s, limit, offset)
    local out, n, i = mp_unpack_all(s, limit or 0, offset or 0)
    return (i > #s) and -1 or i - 1, unpack(out, 1, n)
  end,
}

-- struct: Roberto Ierusalimschy's struct library (pack, unpack, size).
local function struct_items(fmt)
  local i, n, items = 1, #fmt, {}
  while i <= n do
    local c = ssub(fmt, i, i); i = i + 1
    local digits = fmt:match("^%d+", i)
    local size
    if digits then size = tonumber(digits); i = i + #digits end
    items[#items + 1] = { c, size }
  end
  return items
end
local sizes = { b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, i = 4, I = 4, f = 4, d = 8 }
local function int_bytes(v, n, little)
  if v < 0 then v = v + 2 ^ (8 * n) end
  local t = {}
  for k = 1, n do t[k] = schar(v % 256); v = floor(v / 256) end
  local s = tconcat(t)
  return little and s or s:reverse()
end
struct = {
  pack = positioned(function(fmt, ...)
    local little, out, arg = true, {}, 1
    local args = { ... }
    for _, it in ipairs(struct_items(fmt)) do
      local c, size = it[1], it[2]
      if c == "<" then little = true elseif c == ">" then little = false elseif c == "!" or c == " " or c == "=" then
      elseif c == "x" then out[#out + 1] = "\0"
      elseif sizes[c] then
        local n = (c == "i" or c == "I") and (size or 4) or sizes[c]
        local v = args[arg]; arg = arg + 1
        if type(v) ~= "number" then error("bad argument #" .. arg .. " to 'pack' (number expected, got " .. type(v) .. ")", 2) end
        if c == "f" then local p = pack_float(v):sub(2); out[#out + 1] = little and p:reverse() or p
        elseif c == "d" then local p = pack_double(v):sub(2); out[#out + 1] = little and p:reverse() or p
        else out[#out + 1] = int_bytes(floor(v), n, little) end
      elseif c == "s" then local v = args[arg]; arg = arg + 1; out[#out + 1] = v .. "\0"
      elseif c == "c" then
        local v = args[arg]; arg = arg + 1
        local n = size or #v
        out[#out + 1] = ssub(v, 1, n) .. srep("\0", n - #ssub(v, 1, n))
      else error("invalid format option '" .. c .. "'", 2) end
    end
    return tconcat(out)
  end),
  unpack = positioned(function(fmt, s, pos)
    local little, i, res = true, pos or 1, {}
    for _, it in ipairs(struct_items(fmt)) do
      local c, size = it[1], it[2]
      if c == "<" then little = true elseif c == ">" then little = false elseif c == "!" or c == " " or c == "=" then
      elseif c == "x" then i = i + 1
      elseif sizes[c] then
        local n = (c == "i" or c == "I") and (size or 4) or sizes[c]
        if i + n - 1 > #s then error("bad argument #2 to 'unpack' (data string too short)", 2) end
        local b = ssub(s, i, i + n - 1); i = i + n
        if not little then b = b:reverse() end
        if c == "f" or c == "d" then
          local v = 0
          for k = n, 1, -1 do v = v * 256 + sbyte(b, k) end
          if c == "f" then res[#res + 1] = unpack_float(v)
          else res[#res + 1] = unpack_double(floor(v / 2 ^ 32), v % 2 ^ 32) end
        else
          local v = 0
          for k = n, 1, -1 do v = v * 256 + sbyte(b, k) end
          if (c == "b" or c == "h" or c == "l" or c == "i") and v >= 2 ^ (8 * n - 1) then v = v - 2 ^ (8 * n) end
          res[#res + 1] = v
        end
      elseif c == "s" then local e = s:find("\0", i, true) or (#s + 1); res[#res + 1] = ssub(s, i, e - 1); i = e + 1
      elseif c == "c" then local n = size or 1; res[#res + 1] = ssub(s, i, i + n - 1); i = i + n
      else error("invalid format option '" .. c .. "'", 2) end
    end
    res[#res + 1] = i
    return unpack(res)
  end),
  size = positioned(function(fmt)
    local total = 0
    for _, it in ipairs(struct_items(fmt)) do
      local c, size = it[1], it[2]
      if c == "x" then total = total + 1
      elseif sizes[c] then total = total + ((c == "i" or c == "I") and (size or 4) or sizes[c])
      elseif c == "c" then total = total + (size or 1)
      elseif c == "s" then error("options 's' has no fixed size", 0) end
    end
    return total
  end),
}
"""#

    /// The sandbox: Redis 7.0's error handler, no print/dofile/loadfile/debug, and every
    /// global and library table read-only ("Attempt to modify a readonly table"), reading an
    /// undefined global an error. Stock Lua 5.1 has no read-only tables: globals and libraries
    /// are served through empty proxy tables whose metatables refuse writes.
    static let sandbox = #"""
local G = _G
local dbg = debug
dbg.getregistry().__strata_globals = G
local raw_setmetatable, raw_getmetatable, raw_rawset, raw_rawget, raw_error, raw_tostring, raw_getfenv, raw_type =
  setmetatable, getmetatable, rawset, rawget, error, tostring, getfenv, type

function __redis__err__handler(err)
  -- The frame that failed: C functions and this prelude's own Lua (Redis's libraries and
  -- read-only tables are C there) are skipped, so the position is the user's.
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.source == '@sandbox' or i.source == '@lua_libraries') do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if raw_type(err) ~= 'table' then err = {err = 'ERR ' .. raw_tostring(err)} end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

G.debug, G.print, G.dofile, G.loadfile, G.__strata_cwrap = nil, nil, nil, nil, nil

-- Precompiled (binary) chunks are refused, as Redis's Lua refuses them: bytecode is not checked
-- by the VM and can crash it.
local raw_loadstring, raw_load, sbyte = loadstring, load, string.byte
G.loadstring = function(s, name)
  if raw_type(s) == 'string' and sbyte(s, 1) == 27 then return nil, 'binary chunks are not allowed' end
  return raw_loadstring(s, name)
end
G.load = function(f, name)
  local first = true
  return raw_load(function()
    local piece = f()
    if first and raw_type(piece) == 'string' and sbyte(piece, 1) == 27 then return nil end
    first = false
    return piece
  end, name)
end

local protected = {}
local function refuse() raw_error('Attempt to modify a readonly table', 2) end
-- From a builtin (setmetatable, rawset) Redis's VM raises it with no position.
local function refuse_here() raw_error('Attempt to modify a readonly table', 0) end
local function readonly(t, index)
  local shown = {}
  raw_setmetatable(shown, {__newindex = refuse, __metatable = false})
  protected[shown] = true
  local proxy = {}
  raw_setmetatable(proxy, {__index = index or t, __newindex = refuse, __metatable = shown})
  protected[proxy] = true
  return proxy
end

for _, name in ipairs({'redis', 'string', 'math', 'table', 'cjson', 'bit', 'cmsgpack', 'struct', 'coroutine'}) do
  if raw_type(G[name]) == 'table' then G[name] = readonly(G[name]) end
end

-- FUNCTION LOAD runs a library with only the library API visible (redis.register_function,
-- redis.log, the versions); its functions, called later, see every global.
local loading = nil
local globals = readonly(G, function(_, k)
  local v = raw_rawget(loading or G, k)
  if v == nil then
    raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(k) .. "'", 2)
  end
  return v
end)
local reg = dbg.getregistry()
local FLAGS = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true, ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
local function fail(msg) raw_error({err = 'ERR ' .. msg}) end
local function register_function(...)
  if not loading then fail('redis.register_function can only be called on FUNCTION LOAD command') end
  local n = select('#', ...)
  local a, b = ...
  local name, callback, flags, description
  if n == 1 then
    if raw_type(a) ~= 'table' then fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).') end
    for k, v in pairs(a) do
      if raw_type(k) ~= 'string' then fail('named argument key given to redis.register_function is not a string') end
      if k == 'function_name' then
        if raw_type(v) ~= 'string' then fail('function_name argument given to redis.register_function must be a string') end
        name = v
      elseif k == 'description' then
        if raw_type(v) ~= 'string' then fail('description argument given to redis.register_function must be a string') end
        description = v
      elseif k == 'callback' then
        if raw_type(v) ~= 'function' then fail('callback argument given to redis.register_function must be a function') end
        callback = v
      elseif k == 'flags' then
        if raw_type(v) ~= 'table' then fail('flags argument to redis.register_function must be a table representing function flags') end
        flags = {}
        for _, f in pairs(v) do
          if raw_type(f) ~= 'string' or not FLAGS[f] then fail('unknown flag given') end
          flags[#flags + 1] = f
        end
      else
        fail('unknown argument given to redis.register_function')
      end
    end
    if not name then fail('redis.register_function must get a function name argument') end
    if not callback then fail('redis.register_function must get a callback argument') end
  elseif n == 2 then
    if raw_type(a) ~= 'string' then fail('first argument to redis.register_function must be a string') end
    if raw_type(b) ~= 'function' then fail('second argument to redis.register_function must be a function') end
    name, callback = a, b
  else
    fail('wrong number of arguments to redis.register_function')
  end
  if not string.find(name, '^[%w_]+$') then
    -- (Redis words it so for function names too.)
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  local pending = reg.__strata_pending
  for _, f in ipairs(pending) do
    if f.name == name then fail('Function already exists in the library') end
  end
  pending[#pending + 1] = {name = name, callback = callback, flags = flags or {}, description = description}
end
local real_redis = G.redis
local library_redis = {register_function = register_function, log = real_redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = real_redis.REDIS_VERSION, REDIS_VERSION_NUM = real_redis.REDIS_VERSION_NUM}
local library_api = {redis = readonly(library_redis, function(_, k)
  local v = raw_rawget(library_redis, k)
  if v == nil then
    raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(k) .. "'", 2)
  end
  return v
end)}
reg.__strata_load_begin = function() reg.__strata_pending = {}; loading = library_api end
reg.__strata_load_end = function() loading = nil end
G._G = globals
G.setmetatable = function(t, m)
  if protected[t] then refuse_here() end
  return raw_setmetatable(t, m)
end
G.rawset = function(t, k, v)
  if protected[t] then refuse_here() end
  return raw_rawset(t, k, v)
end
G.getfenv = function(f)
  local env = raw_getfenv(f == nil and 2 or (raw_type(f) == 'number' and f > 0 and f + 1 or f))
  if env == G then return globals end
  return env
end
local string_meta = raw_getmetatable('')
string_meta.__metatable = readonly({})
setfenv(0, globals)
"""#
}
