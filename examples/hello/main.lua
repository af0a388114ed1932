-- main.lua — entry script of the hello module (examples/hello/gmod.json).
-- The kernel (docs/kernel.md, "Module Lua contract") calls init(ctx) once
-- when the module is loaded, on_event(ctx, ev) for every input event of a
-- tick and tick(ctx) once per fixed simulation step. Host functions are
-- reachable only for the capabilities declared in gmod.json.

local greeting = "Hello from GOSR"
STATE_SCHEMA = 1

function init(ctx)
  state = { ticks = 0, greeted = 0 }
  log.info(greeting .. " (module loaded)")
end

function tick(ctx)
  state.ticks = state.ticks + 1
  if state.ticks % 600 == 0 then
    log.info("hello has run " .. state.ticks .. " ticks, " ..
             world.count() .. " entities")
  end
end

function on_event(ctx, ev)
  if ev.name == "game:player_joined:v1:completed" then
    state.greeted = state.greeted + 1
    log.info(greeting .. ", " .. ev.user .. "!")
  end
end
