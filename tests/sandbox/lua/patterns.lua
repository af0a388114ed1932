-- Pattern conformance: run by plain Lua 5.4 and by the sandbox; the
-- sandbox's own matcher must give the same text.
local subjects = {"", "hello world", "  key = value  ", "aaa", "(foo(bar))baz",
  "THE (quick) fox", "a.b.c", "x=1, y=22, z=333", "\0a\0b", "caf\195\169",
  "[[x]]", "%d", "one two  three"}
local patterns = {"", "o", "l+", "l*", "l-", "l?", "^h", "d$", "%a+", "%d+",
  "%s*(%w+)%s*=%s*(%w+)", "(%w+)=(%w+)", "%b()", "%b[]", "%f[%w]%w+",
  "%f[%W]", "[%a_][%w_]*", "[^%s]+", "()ll()", ".-", ".", "(a)(a)", "(a)%1",
  "[a-c]+", "[%]]", "[]]", "[^]]", "%.", "%", "[a", "(()", "%1", "x*$", "^$",
  "%z", "[%d%.]+", "%u%l+", "%p", "%c", "%x+", "%g+", "(h)(e)(l)(l)(o)",
  "a-b", "[%w-]+", "^(%w+)", "(.)(.)%2", "%%d", "[^%a%s]", "%S+$", "(%s*)",
  "()", "^()", "a?a?a?aaa", "[a-]", "[-a]", "%w-%s", "%bxy", "(%d)(%d?)"}
local out = {}
local function rec(...)
  local t = table.pack(...)
  for i = 1, t.n do out[#out + 1] = tostring(t[i]) end
  out[#out + 1] = "|"
end
for _, s in ipairs(subjects) do
  for _, p in ipairs(patterns) do
    rec(pcall(string.find, s, p))
    rec(pcall(string.find, s, p, 3))
    rec(pcall(string.find, s, p, -2, true))
    rec(pcall(string.match, s, p))
    rec(pcall(string.match, s, p, 2))
    rec(pcall(string.gsub, s, p, "<%0>"))
    rec(pcall(string.gsub, s, p, "%%", 2))
    rec(pcall(string.gsub, s, p, "%1"))
    rec(pcall(string.gsub, s, p, {hello = "HI", a = "A", l = false}))
    rec(pcall(string.gsub, s, p, function(a, b) return b end))
    rec(pcall(function()
      local r = {}
      for a, b in s:gmatch(p) do r[#r + 1] = tostring(a) .. "," .. tostring(b) end
      return table.concat(r, ";")
    end))
    rec(pcall(function()
      local r = {}
      for a in s:gmatch(p, 3) do r[#r + 1] = tostring(a) end
      return table.concat(r, ";")
    end))
  end
end
return table.concat(out, " ")
