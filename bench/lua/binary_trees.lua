-- binary-trees: allocation-heavy recursion (GC and table creation).
local function make(d)
  if d == 0 then return {} end
  d = d - 1
  return {make(d), make(d)}
end
local function check(t)
  if t[1] then return 1 + check(t[1]) + check(t[2]) end
  return 1
end
local N = 15
local total = check(make(N + 1))
local long = make(N)
for d = 4, N, 2 do
  local iters = 1 << (N - d + 4)
  local c = 0
  for _ = 1, iters do c = c + check(make(d)) end
  total = total + c
end
return total + check(long)
