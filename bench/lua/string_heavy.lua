-- string-heavy: formatting, concatenation, patterns, gsub, rep, byte/char.
local words = {}
for i = 1, 2000 do words[i] = string.format("w%04d_%s", i, ("ab"):rep(i % 7)) end
local text = table.concat(words, " ")
local total = 0
for round = 1, 500 do
  local n = 0
  for w in text:gmatch("%a%d+_(%a*)") do n = n + #w end
  local replaced, k = text:gsub("w(%d+)", function(d) return d end)
  local s, e = text:find("w1999_", 1, true)
  local up = text:upper():lower()
  local parts = {}
  for i = 1, 300 do parts[#parts + 1] = tostring(i * round) .. ":" .. (i % 3) end
  local joined = table.concat(parts, ",")
  local m = select(2, joined:gsub(",", ","))
  local b = 0
  for i = 1, #joined, 7 do b = b + joined:byte(i) end
  total = total + n + k + s + #up + m + b + #replaced + #(("x"):rep(round, "-"))
end
return total
