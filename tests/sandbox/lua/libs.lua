-- Library conformance for the wrapped functions (rep, format, concat,
-- unpack, move, sort) against plain Lua 5.4.
local out = {}
local function rec(...)
  local t = table.pack(...)
  for i = 1, t.n do out[#out + 1] = tostring(t[i]) end
  out[#out + 1] = "|"
end
rec(pcall(string.rep, "ab", 3))
rec(pcall(string.rep, "ab", 3, ", "))
rec(pcall(string.rep, "", 5))
rec(pcall(string.rep, "", 5, "-"))
rec(pcall(string.rep, "x", 0))
rec(pcall(string.rep, "x", -3, "y"))
rec(pcall(string.rep, "x", 1, "y"))
rec(#string.rep("abc", 1000, "de"))
rec(pcall(string.format, "%5d|%-5s|%05.1f|%x|%q", 42, "ab", 3.14159, 255, "a\nb"))
rec(pcall(string.format, "%10.3s|", "abcdef"))
rec(pcall(table.concat, {1, 2, 3}, ", "))
rec(pcall(table.concat, {1, 2, 3}, ", ", 2, 3))
rec(pcall(table.concat, {1, 2, 3}, ", ", 3, 2))
rec(pcall(table.concat, {1, {}, 3}))
rec(pcall(table.concat, {}))
rec(pcall(table.unpack, {1, 2, 3}))
rec(pcall(table.unpack, {1, 2, 3}, 2))
rec(pcall(table.unpack, {1, 2, 3}, -1, 1))
rec(pcall(table.unpack, {1, 2, 3}, 3, 1))
rec(table.concat(table.move({1, 2, 3, 4, 5}, 2, 4, 1), ","))
rec(table.concat(table.move({1, 2, 3, 4, 5}, 1, 3, 3), ","))
rec(table.concat(table.move({1, 2, 3}, 1, 3, 2, {}), ",", 2, 4))
rec(pcall(table.move, {}, 1, math.maxinteger, 2))
local t = {}
for i = 1, 200 do t[i] = (i * 7919) % 211 end
table.sort(t)
rec(table.concat(t, ","))
table.sort(t, function(a, b) return a > b end)
rec(table.concat(t, ","))
local fl = {}
for i = 1, 300 do fl[i] = ((i * 7919) % 211) / 7 - 10 end
table.sort(fl)
rec(table.concat(fl, ","))
local mixed = {3, 1.5, 2, -1, 0.25}
table.sort(mixed)
rec(table.concat(mixed, ","))
local words = {"pear", "apple", "fig", "banana", "kiwi"}
table.sort(words)
rec(table.concat(words, ","))
rec((pcall(table.sort, {1, "x", 2})))
rec(utf8.char(72, 228, 8364), utf8.len("h\195\164"), math.max(1, 5, 3), math.floor(3.7))
rec(select("#", table.unpack({1, nil, 3}, 1, 3)))
return table.concat(out, " ")
