-- main.lua — entry script of the hello module (examples/hello/gmod.json).
-- The kernel calls tick(ctx) once per fixed simulation step and
-- event(ctx, ev) for every event addressed to the module. Only the
-- capabilities declared in gmod.json are reachable through ctx.

local greeting = "Hello from GOSR"

function init(ctx)
  ctx.world.set("hello.ticks", 0)
  ctx.log.info(greeting .. " (module loaded)")
end

function tick(ctx)
  local n = (ctx.world.get("hello.ticks") or 0) + 1
  ctx.world.set("hello.ticks", n)
  if n % 600 == 0 then
    ctx.log.info("hello has run " .. n .. " ticks")
  end
end

function event(ctx, ev)
  if ev.type == "player_joined" then
    ctx.world.set("hello.last_greeted", ev.player)
    ctx.log.info(greeting .. ", " .. ev.player .. "!")
  end
end
