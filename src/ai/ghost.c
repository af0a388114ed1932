/*
 * ghost.c — the deterministic last tier (the seed's "ghost limb"): real,
 * valid content with no network. Dialogue from a grammar driven by NPC
 * state; quests from templates constrained by the supplied world; maps from
 * value noise + cellular automata with a connectivity pass and far-apart
 * spawn points; economy multipliers from supply/demand within bounds;
 * moderation by lexicon rules; patch bundles (gmod.json of kind patch plus
 * Lua) that compile. Same (capability, seed, input) -> the same bytes.
 *
 * PRNG: xoshiro256**, state from SplitMix64 over the four words of
 * BLAKE3("gosr-ai-ghost-v1" || capability name || 0 || seed as 8 bytes LE ||
 * canonical input JSON).
 *
 * Design: docs/ai.md ("The ghost tier").
 * Sections: PRNG, dialogue, quest, map, economy, moderation, patch, entry.
 */
#include "ai/ai_int.h"
#include "gosr/crypto.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <string.h>

/* ---- PRNG --------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ai__rng_seed(ai_rng *r, gosr_ai_cap cap, uint64_t seed, const char *input,
                  size_t n)
{
    gosr_blake3 h;
    uint8_t d[32], le[8];
    const char *name = gosr_ai_cap_name(cap);
    gosr_blake3_init(&h);
    gosr_blake3_update(&h, "gosr-ai-ghost-v1", 16);
    gosr_blake3_update(&h, name, strlen(name) + 1);
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(seed >> (8 * i));
    gosr_blake3_update(&h, le, 8);
    gosr_blake3_update(&h, input, n);
    gosr_blake3_finalize(&h, d, 32);
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int j = 0; j < 8; j++)
            w |= (uint64_t)d[i * 8 + j] << (8 * j);
        r->s[i] = splitmix64(&w);
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ai__rng_next(ai_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t ai__rng_below(ai_rng *r, uint32_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = ai__rng_next(r);
    while (x >= lim);
    return (uint32_t)(x % n);
}

double ai__rng_unit(ai_rng *r)
{
    return (double)(ai__rng_next(r) >> 11) * 0x1.0p-53;
}

#define PICK(r, arr) ((arr)[ai__rng_below((r), sizeof(arr) / sizeof((arr)[0]))])

static const char *str_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long int_of(const json_t *o, const char *k)
{
    return (long)json_integer_value(json_object_get(o, k));
}

/* ---- dialogue ----------------------------------------------------------- */

static const char *const k_moods[] = {"happy", "neutral", "angry", "afraid",
                                      "sad"};

static int mood_index(const char *m)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(m, k_moods[i]) == 0)
            return i;
    return 1;
}

static const char *const k_greet[5][3] = {
    {"Well met, {player}!", "Ah, {player}! A friendly face at last.",
     "{player}! What a fine day it is."},
    {"Greetings, {player}.", "What brings you here, {player}?",
     "Good day to you, {player}."},
    {"What do you want, {player}?", "Make it quick, {player}.",
     "You again, {player}? Speak."},
    {"Oh! {player}, you startled me.", "Keep your voice down, {player}.",
     "Is it safe out there, {player}?"},
    {"Hello, {player}. Forgive me, it has been a long day.",
     "Ah, {player}. Sit a while, if you like.",
     "{player}... I did not expect company."},
};

static const char *const k_goods[] = {
    "spices and silk", "spears and shields", "ale and warm stew",
    "blades and horseshoes", "scrolls and strange powders",
    "turnips and fresh eggs", "goods of uncertain origin"};
static const char *const k_roles[] = {"merchant", "guard", "innkeeper",
                                      "blacksmith", "wizard", "farmer",
                                      "bandit"};

static const char *const k_topic[5][3] = {
    {"I am {npc}, the {role} here.", "Not many travellers come this way.",
     "Mind the road, it gets dark early."},
    {"I have {goods}, and my prices are fair.",
     "Looking for {goods}? You came to the right {role}.",
     "Coin first, then we talk about {goods}."},
    {"They say {rumor} near the {place}.",
     "I heard {rumor}, though nobody believes me.",
     "Word is {rumor}. Make of it what you will."},
    {"I need someone to {task}. Are you willing?",
     "If you could {task}, I would owe you.",
     "There is work for you: {task}."},
    {"Safe travels.", "Until next time.", "Off you go, then."},
};
static const char *const k_rumor[] = {
    "wolves have been seen", "a lantern moves at night",
    "the old bridge is cracking", "a stranger paid in silver",
    "the well water tastes of iron"};
static const char *const k_place[] = {"north mine", "dark forest",
                                      "river ford", "old chapel",
                                      "market square"};
static const char *const k_task[] = {
    "carry a letter to the river ford", "find my lost ledger",
    "gather herbs from the dark forest", "check on the north mine",
    "escort a cart to the market square"};

/* Expands {player} {npc} {role} {goods} {rumor} {place} {task}. */
static int expand(gosr_buf *b, const char *tpl, const json_t *in, ai_rng *r)
{
    const json_t *npc = json_object_get(in, "npc");
    const char *role = str_of(npc, "role");
    int ri = 0;
    for (int i = 0; i < 7; i++)
        if (strcmp(role, k_roles[i]) == 0)
            ri = i;
    for (const char *p = tpl; *p;) {
        const char *q = strchr(p, '{');
        if (!q)
            return gosr_buf_append(b, p, strlen(p));
        int rc = gosr_buf_append(b, p, (size_t)(q - p));
        const char *e = strchr(q, '}');
        if (rc || !e)
            return rc ? rc : GOSR_EINTERNAL;
        size_t n = (size_t)(e - q - 1);
        const char *v = "";
        if (!strncmp(q + 1, "player", n)) v = str_of(json_object_get(in, "player"), "name");
        else if (!strncmp(q + 1, "npc", n)) v = str_of(npc, "name");
        else if (!strncmp(q + 1, "role", n)) v = role;
        else if (!strncmp(q + 1, "goods", n)) v = k_goods[ri];
        else if (!strncmp(q + 1, "rumor", n)) v = PICK(r, k_rumor);
        else if (!strncmp(q + 1, "place", n)) v = PICK(r, k_place);
        else if (!strncmp(q + 1, "task", n)) v = PICK(r, k_task);
        if ((rc = gosr_buf_append(b, v, strlen(v))))
            return rc;
        p = e + 1;
    }
    return GOSR_OK;
}

static int topic_index(const char *t)
{
    static const char *const topics[] = {"greeting", "trade", "rumor",
                                         "quest", "farewell"};
    for (int i = 0; i < 5; i++)
        if (strcmp(t, topics[i]) == 0)
            return i;
    return 0;
}

static const char *closer(long rel)
{
    if (rel > 30) return "Come back soon, friend.";
    if (rel < -30) return "Now leave me be.";
    return "Safe travels.";
}

static int add_line(json_t *lines, const char *speaker, gosr_buf *b)
{
    json_t *l = json_pack("{s:s, s:s}", "speaker", speaker, "text",
                          b->data ? (char *)b->data : "");
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
    return l && !json_array_append_new(lines, l) ? GOSR_OK : GOSR_ENOMEM;
}

static const char *mood_after(int mood, long rel, ai_rng *r)
{
    int shift = rel >= 20 ? 0 : rel <= -20 ? 2 : 1; /* happy/angry/stay */
    if (ai__rng_below(r, 4) == 0 || shift == 1)
        return k_moods[mood];
    return k_moods[shift];
}

static int gen_dialog(const json_t *in, ai_rng *r, json_t **out)
{
    const json_t *npc = json_object_get(in, "npc");
    const char *name = str_of(npc, "name");
    int mood = mood_index(str_of(npc, "mood"));
    long rel = int_of(npc, "relationship");
    long max = int_of(in, "max_lines");
    int topic = topic_index(str_of(in, "topic"));
    gosr_buf b = {0};
    json_t *lines = json_array();
    int rc = lines ? GOSR_OK : GOSR_ENOMEM;
    if (!rc && !(rc = expand(&b, k_greet[mood][ai__rng_below(r, 3)], in, r)))
        rc = add_line(lines, name, &b);
    for (long i = 1; !rc && i < max; i++) {
        const char *tpl = (i == max - 1 && max >= 3)
                              ? closer(rel)
                              : k_topic[topic][ai__rng_below(r, 3)];
        if (!(rc = expand(&b, tpl, in, r)))
            rc = add_line(lines, name, &b);
    }
    gosr_buf_free(&b);
    if (!rc && !(*out = json_pack("{s:s, s:o, s:s}", "npc", name, "lines",
                                  lines, "mood_after",
                                  mood_after(mood, rel, r))))
        return GOSR_ENOMEM;
    if (rc)
        json_decref(lines);
    return rc;
}

/* ---- quest -------------------------------------------------------------- */

static const char *const k_quest_types[] = {"collect", "deliver", "talk",
                                            "reach"};

static const json_t *pick_obj(ai_rng *r, const json_t *arr)
{
    return json_array_get(arr, ai__rng_below(r, (uint32_t)json_array_size(arr)));
}

static json_t *objective(ai_rng *r, const json_t *world, const char *giver,
                         long diff, gosr_buf *title, long *gold)
{
    const char *type = PICK(r, k_quest_types);
    const char *target;
    long count = 1;
    if (!strcmp(type, "collect") || !strcmp(type, "deliver")) {
        const json_t *it = pick_obj(r, json_object_get(world, "items"));
        target = str_of(it, "id");
        count = 1 + (long)ai__rng_below(r, (uint32_t)(2 + diff * 3));
        *gold += count * int_of(it, "value");
        gosr_buf_printf(title, "%s %s", !strcmp(type, "collect") ? "Gather"
                                                                 : "Deliver",
                        str_of(it, "name"));
    } else if (!strcmp(type, "talk")) {
        const json_t *n = pick_obj(r, json_object_get(world, "npcs"));
        target = str_of(n, "id");
        if (!strcmp(target, giver) && json_array_size(json_object_get(world, "npcs")) > 1)
            return objective(r, world, giver, diff, title, gold);
        gosr_buf_printf(title, "A Word with %s", str_of(n, "name"));
    } else {
        target = json_string_value(pick_obj(r, json_object_get(world, "locations")));
        gosr_buf_printf(title, "The Road to %s", target);
    }
    return json_pack("{s:s, s:s, s:I}", "type", type, "target", target, "count",
                     (json_int_t)count);
}

static int gen_quest(const json_t *in, ai_rng *r, json_t **out)
{
    const json_t *world = json_object_get(in, "world");
    const json_t *giver = pick_obj(r, json_object_get(world, "npcs"));
    long diff = int_of(in, "difficulty"), lvl = int_of(in, "player_level");
    long gold = 0, nobj = 1 + (long)ai__rng_below(r, (uint32_t)(diff > 3 ? 3 : 2));
    gosr_buf title = {0};
    char id[24];
    json_t *objs = json_array();
    for (long i = 0; objs && i < nobj; i++) {
        if (i)
            gosr_buf_append(&title, i == nobj - 1 ? " and " : ", ", i == nobj - 1 ? 5 : 2);
        json_t *o = objective(r, world, str_of(giver, "id"), diff, &title, &gold);
        if (!o || json_array_append_new(objs, o))
            break;
    }
    snprintf(id, sizeof id, "q-%08x", (unsigned)ai__rng_next(r));
    const json_t *ri = pick_obj(r, json_object_get(world, "items"));
    long xp = 40 * diff * lvl + (long)ai__rng_below(r, 50);
    if (title.len > 110)
        title.len = 110, title.data[110] = 0;
    json_t *q = json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I, s:[{s:s, s:i}]}}",
                          "id", id, "title", title.data ? (char *)title.data : "Errand",
                          "npc", str_of(giver, "id"), "objectives", objs, "rewards",
                          "xp", (json_int_t)xp, "gold", (json_int_t)(gold / 2 + diff * 5),
                          "items", "id", str_of(ri, "id"), "count", 1);
    char sum[600];
    snprintf(sum, sizeof sum, "%s has a task for you: %s.", str_of(giver, "name"),
             title.data ? (char *)title.data : "an errand");
    gosr_buf_free(&title);
    *out = q ? json_pack("{s:o, s:s}", "quest", q, "summary", sum) : NULL;
    return *out ? GOSR_OK : GOSR_ENOMEM;
}

/* ---- map ---------------------------------------------------------------- */

/* Value noise: random lattice values every `cell` tiles, smoothstep-blended. */
static double value_noise(const double *lat, int lw, int x, int y, int cell)
{
    int gx = x / cell, gy = y / cell;
    double fx = (double)(x % cell) / cell, fy = (double)(y % cell) / cell;
    double sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
    double a = lat[gy * lw + gx], b = lat[gy * lw + gx + 1];
    double c = lat[(gy + 1) * lw + gx], d = lat[(gy + 1) * lw + gx + 1];
    return (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy;
}

typedef struct mapgen {
    int w, h;     /* size */
    char *wall;   /* 1 = blocked, per tile */
    int *label;   /* region label per tile (connectivity pass) */
    int *queue;   /* BFS queue */
} mapgen;

static int walls_around(const mapgen *m, int x, int y)
{
    int n = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int nx = x + dx, ny = y + dy;
            if ((dx || dy) && (nx < 0 || ny < 0 || nx >= m->w || ny >= m->h ||
                               m->wall[ny * m->w + nx]))
                n++;
        }
    return n;
}

static void automaton(mapgen *m, char *tmp)
{
    for (int it = 0; it < 4; it++) {
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++) {
                int n = walls_around(m, x, y), i = y * m->w + x;
                tmp[i] = n >= 5 ? 1 : n <= 3 ? 0 : m->wall[i];
                if (x == 0 || y == 0 || x == m->w - 1 || y == m->h - 1)
                    tmp[i] = 1;
            }
        memcpy(m->wall, tmp, (size_t)(m->w * m->h));
    }
}

/* Labels 4-connected open regions; returns the count, *biggest its label. */
static int label_regions(mapgen *m, int *biggest, int *first_cell)
{
    int n = m->w * m->h, nreg = 0, best = 0;
    for (int i = 0; i < n; i++)
        m->label[i] = -1;
    for (int i = 0; i < n; i++) {
        if (m->wall[i] || m->label[i] >= 0)
            continue;
        int head = 0, tail = 0, size = 0;
        m->queue[tail++] = i;
        m->label[i] = nreg;
        first_cell[nreg] = i;
        while (head < tail) {
            int c = m->queue[head++], cx = c % m->w, cy = c / m->w;
            static const int d[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
            size++;
            for (int k = 0; k < 4; k++) {
                int nx = cx + d[k][0], ny = cy + d[k][1], j = ny * m->w + nx;
                if (nx > 0 && ny > 0 && nx < m->w - 1 && ny < m->h - 1 &&
                    !m->wall[j] && m->label[j] < 0) {
                    m->label[j] = nreg;
                    m->queue[tail++] = j;
                }
            }
        }
        if (size > best)
            best = size, *biggest = nreg;
        nreg++;
    }
    return nreg;
}

/* Carves an L-shaped corridor from cell a to cell b. */
static void carve(mapgen *m, int a, int b)
{
    int x = a % m->w, y = a / m->w, bx = b % m->w, by = b / m->w;
    while (x != bx) {
        m->wall[y * m->w + x] = 0;
        x += bx > x ? 1 : -1;
    }
    while (y != by) {
        m->wall[y * m->w + x] = 0;
        y += by > y ? 1 : -1;
    }
    m->wall[by * m->w + bx] = 0;
}

static void connect_all(mapgen *m, int *first)
{
    int big = 0, nreg = label_regions(m, &big, first);
    if (nreg == 0) { /* all rock: open a room in the middle */
        for (int y = m->h / 3; y < 2 * m->h / 3; y++)
            for (int x = m->w / 3; x < 2 * m->w / 3; x++)
                m->wall[y * m->w + x] = 0;
        return;
    }
    for (int r = 0; r < nreg; r++)
        if (r != big)
            carve(m, first[r], first[big]);
}

static int dist2(int a, int b, int w)
{
    int dx = a % w - b % w, dy = a / w - b / w;
    return dx * dx + dy * dy;
}

/* Farthest-point sampling over 64 random open candidates per spawn. */
static json_t *pick_spawns(mapgen *m, ai_rng *r, int want)
{
    int n = m->w * m->h, nopen = 0, chosen[16];
    for (int i = 0; i < n; i++)
        if (!m->wall[i])
            m->queue[nopen++] = i;
    json_t *sp = json_array();
    for (int s = 0; sp && s < want && s < nopen; s++) {
        int best = -1, bestd = -1;
        for (int k = 0; k < 64; k++) {
            int c = m->queue[ai__rng_below(r, (uint32_t)nopen)], d = INT32_MAX;
            for (int j = 0; j < s; j++) {
                int dd = dist2(c, chosen[j], m->w);
                d = dd < d ? dd : d;
            }
            if (d > bestd && (s == 0 || d > 0))
                bestd = d, best = c;
        }
        if (best < 0)
            break;
        chosen[s] = best;
        json_array_append_new(sp, json_pack("{s:i, s:i}", "x", best % m->w,
                                            "y", best / m->w));
    }
    return sp;
}

static char tile_char(const mapgen *m, const char *biome, int x, int y,
                      double hgt)
{
    bool wall = m->wall[y * m->w + x];
    if (!strcmp(biome, "cave"))
        return wall ? '#' : '.';
    if (!strcmp(biome, "forest"))
        return wall ? (hgt < 0.3 ? '~' : 'T') : ',';
    if (wall)
        return '~';
    return walls_around(m, x, y) > 0 ? 's' : ',';
}

static json_t *map_tiles(const mapgen *m, const char *biome, const double *lat,
                         int lw)
{
    json_t *rows = json_array();
    char *row = gosr_malloc((size_t)m->w + 1);
    for (int y = 0; rows && row && y < m->h; y++) {
        for (int x = 0; x < m->w; x++)
            row[x] = tile_char(m, biome, x, y, value_noise(lat, lw, x, y, 8));
        row[m->w] = 0;
        json_array_append_new(rows, json_string(row));
    }
    gosr_free(row);
    return rows;
}

static void map_fill(mapgen *m, const json_t *in, ai_rng *r, const double *lat,
                     int lw)
{
    double wall_p = (double)int_of(in, "wall_pct") / 100.0;
    bool island = !strcmp(str_of(in, "biome"), "island");
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            double v = 0.5 * value_noise(lat, lw, x, y, 8) + 0.5 * ai__rng_unit(r);
            if (island) { /* more water towards the edge */
                double dx = (x - m->w / 2.0) / (m->w / 2.0);
                double dy = (y - m->h / 2.0) / (m->h / 2.0);
                v = 0.6 * v + 0.4 * (1.0 - sqrt(dx * dx + dy * dy));
            }
            m->wall[y * m->w + x] = v < wall_p;
        }
}

static int gen_map(const json_t *in, ai_rng *r, json_t **out)
{
    mapgen m = {.w = (int)int_of(in, "width"), .h = (int)int_of(in, "height")};
    int n = m.w * m.h, lw = m.w / 8 + 2, lh = m.h / 8 + 2;
    double *lat = gosr_malloc(sizeof(double) * (size_t)(lw * lh));
    char *tmp = gosr_malloc((size_t)n);
    int *first = gosr_malloc(sizeof(int) * (size_t)n);
    m.wall = gosr_malloc((size_t)n);
    m.label = gosr_malloc(sizeof(int) * (size_t)n);
    m.queue = gosr_malloc(sizeof(int) * (size_t)n);
    int rc = GOSR_ENOMEM;
    if (!lat || !tmp || !first || !m.wall || !m.label || !m.queue)
        goto out_free;
    for (int i = 0; i < lw * lh; i++)
        lat[i] = ai__rng_unit(r);
    map_fill(&m, in, r, lat, lw);
    automaton(&m, tmp);
    connect_all(&m, first);
    const char *biome = str_of(in, "biome");
    json_t *legend = !strcmp(biome, "cave")
        ? json_pack("{s:s, s:s}", "#", "wall", ".", "floor")
        : !strcmp(biome, "forest")
            ? json_pack("{s:s, s:s, s:s}", "T", "tree", "~", "water", ",", "grass")
            : json_pack("{s:s, s:s, s:s}", "~", "water", "s", "sand", ",", "grass");
    *out = json_pack("{s:i, s:i, s:s, s:o, s:o, s:o}", "width", m.w, "height",
                     m.h, "biome", biome, "tiles", map_tiles(&m, biome, lat, lw),
                     "legend", legend, "spawns",
                     pick_spawns(&m, r, (int)int_of(in, "spawns")));
    rc = *out ? GOSR_OK : GOSR_ENOMEM;
out_free:
    gosr_free(lat);
    gosr_free(tmp);
    gosr_free(first);
    gosr_free(m.wall);
    gosr_free(m.label);
    gosr_free(m.queue);
    return rc;
}

static bool walkable(const json_t *legend, char ch)
{
    char key[2] = {ch, 0};
    const char *v = json_string_value(json_object_get(legend, key));
    return v && (!strcmp(v, "floor") || !strcmp(v, "grass") || !strcmp(v, "sand"));
}

int ai__map_check_grid(const char *grid, int w, int h, const json_t *legend,
                       const json_t *spawns, gosr_error *err)
{
    size_t i;
    json_t *s;
    int n = w * h, head = 0, tail = 0, reached = 0, open = 0;
    json_array_foreach(spawns, i, s)
    {
        long x = int_of(s, "x"), y = int_of(s, "y");
        if (x >= w || y >= h || !walkable(legend, grid[y * w + x]))
            return gosr_error_set(err, GOSR_EFORMAT, "semantic_map_spawn",
                                  "spawn %zu is not on a walkable tile", i);
    }
    int *q = gosr_malloc(sizeof(int) * (size_t)n);
    char *seen = gosr_calloc((size_t)n, 1);
    if (!q || !seen) {
        gosr_free(q);
        gosr_free(seen);
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "map check");
    }
    const json_t *s0 = json_array_get(spawns, 0);
    q[tail++] = (int)(int_of(s0, "y") * w + int_of(s0, "x"));
    seen[q[0]] = 1;
    while (head < tail) {
        int c = q[head++], cx = c % w, cy = c / w;
        static const int d[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
        reached++;
        for (int k = 0; k < 4; k++) {
            int nx = cx + d[k][0], ny = cy + d[k][1], j = ny * w + nx;
            if (nx >= 0 && ny >= 0 && nx < w && ny < h && !seen[j] &&
                walkable(legend, grid[j]))
                seen[j] = 1, q[tail++] = j;
        }
    }
    for (int k = 0; k < n; k++)
        open += walkable(legend, grid[k]);
    gosr_free(q);
    gosr_free(seen);
    if (reached != open)
        return gosr_error_set(err, GOSR_EFORMAT, "semantic_map_disconnected",
                              "%d of %d walkable tiles unreachable",
                              open - reached, open);
    return GOSR_OK;
}

/* ---- economy ------------------------------------------------------------ */

static double round2(double x) { return floor(x * 100.0 + 0.5) / 100.0; }

static int gen_economy(const json_t *in, ai_rng *r, json_t **out)
{
    double lo = json_number_value(json_object_get(in, "min_multiplier"));
    double hi = json_number_value(json_object_get(in, "max_multiplier"));
    if (lo > hi) { double t = lo; lo = hi; hi = t; }
    json_t *tun = json_array();
    size_t i, up = 0, down = 0;
    json_t *it;
    json_array_foreach(json_object_get(in, "items"), i, it)
    {
        double ratio = (double)(int_of(it, "demand") + 1) /
                       (double)(int_of(it, "supply") + 1);
        double m = sqrt(ratio) * (0.98 + 0.04 * ai__rng_unit(r));
        m = round2(m < lo ? lo : m > hi ? hi : m);
        if (m < 0.25) m = 0.25;
        if (m > 4.0) m = 4.0;
        up += m > 1.0, down += m < 1.0;
        double price = round2(json_number_value(json_object_get(it, "price")) * m);
        json_array_append_new(tun, json_pack("{s:s, s:f, s:f}", "id",
                                             str_of(it, "id"), "multiplier", m,
                                             "price", price));
    }
    char sum[160];
    snprintf(sum, sizeof sum, "%zu prices raised, %zu lowered, within "
             "[%.2f, %.2f] by supply and demand.", up, down, lo, hi);
    *out = json_pack("{s:o, s:s}", "tuning", tun, "summary", sum);
    return *out ? GOSR_OK : GOSR_ENOMEM;
}

/* ---- moderation --------------------------------------------------------- */

/* Lower-cases into a bounded buffer. */
static void lower(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = 0;
}

static int count_hits(const char *text, const char *const *words)
{
    int n = 0;
    for (int i = 0; words[i]; i++)
        for (const char *p = text; (p = strstr(p, words[i])); p++)
            n++;
    return n;
}

static const char *const k_toxic[] = {"idiot", "stupid", "loser", "trash",
                                      "hate you", "moron", NULL};
static const char *const k_spam[] = {"buy now", "free gold", "http://",
                                     "https://", "click here", "discount",
                                     NULL};
static const char *const k_sexual[] = {"nude", "nsfw", "sexy", NULL};
static const char *const k_violence[] = {"kill you", "murder", "stab you",
                                         "burn your house", NULL};

static int gen_moderation(const json_t *in, ai_rng *r, json_t **out)
{
    static const char *const labels[] = {"toxic", "spam", "injection",
                                         "sexual", "violence"};
    char buf[4096 * 4 + 1];
    lower(str_of(in, "text"), buf, sizeof buf);
    int hits[5] = {count_hits(buf, k_toxic), count_hits(buf, k_spam),
                   ai__policy_injection(buf) ? 2 : 0,
                   count_hits(buf, k_sexual), count_hits(buf, k_violence)};
    if (ai__policy_banned(buf))
        hits[0] += 2;
    int best = -1, total = 0;
    json_t *cats = json_array();
    for (int i = 0; i < 5; i++) {
        total += hits[i];
        if (hits[i])
            json_array_append_new(cats, json_string(labels[i]));
        if (hits[i] && (best < 0 || hits[i] > hits[best]))
            best = i;
    }
    (void)r;
    double score = total ? round2(fmin(1.0, 0.35 + 0.2 * total)) : 0.0;
    *out = json_pack("{s:s, s:b, s:f, s:o}", "label",
                     best < 0 ? "ok" : labels[best], "flagged", best >= 0,
                     "score", score, "categories", cats);
    return *out ? GOSR_OK : GOSR_ENOMEM;
}

/* ---- patch -------------------------------------------------------------- */

/* Copies the goal keeping only [A-Za-z0-9 ,.-] so it is safe in a Lua
 * comment and a manifest description. */
static void safe_goal(const char *goal, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; goal[i] && j + 1 < cap; i++) {
        char ch = goal[i];
        if (isalnum((unsigned char)ch) || ch == ' ' || ch == ',' || ch == '.' ||
            ch == '-')
            out[j++] = ch;
    }
    out[j] = 0;
    char low[501];
    lower(out, low, sizeof low);
    if (ai__policy_banned(low) || ai__policy_injection(low))
        snprintf(out, cap, "goal withheld by the content policy");
}

static const char k_lua_econ[] =
    "-- patch.lua: written by the GOSR ghost tier (deterministic).\n"
    "-- goal: %s\n"
    "-- Scales the price of %s by %.2f once, when the patch activates.\n"
    "local key = \"economy.price_multiplier.%s\"\n\n"
    "function init(ctx)\n"
    "  local old = ctx.world.get(key) or 1.0\n"
    "  ctx.world.set(key, old * %.2f)\n"
    "  ctx.log.info(\"patch %s: price multiplier for %s is now \" .. (old * %.2f))\n"
    "end\n";

static const char k_lua_spawn[] =
    "-- patch.lua: written by the GOSR ghost tier (deterministic).\n"
    "-- goal: %s\n"
    "-- Spawns fewer enemies: every %d ticks instead of every %d.\n"
    "local every = %d\n\n"
    "function tick(ctx)\n"
    "  local n = (ctx.world.get(\"patch.%s.ticks\") or 0) + 1\n"
    "  ctx.world.set(\"patch.%s.ticks\", n)\n"
    "  if n %% every == 0 then\n"
    "    ctx.world.set(\"spawn.request\", (ctx.world.get(\"spawn.request\") or 0) + 1)\n"
    "  end\n"
    "end\n";

static const char k_lua_note[] =
    "-- patch.lua: written by the GOSR ghost tier (deterministic).\n"
    "-- goal: %s\n"
    "-- No rule matched the goal, so this patch only records it.\n\n"
    "function init(ctx)\n"
    "  ctx.world.set(\"patch.%s.goal\", \"%s\")\n"
    "  ctx.log.info(\"patch %s active\")\n"
    "end\n";

static char *patch_lua(const char *goal, const char *id, const char *item,
                       double mult, int kind, ai_rng *r)
{
    int every = 40 + 10 * (int)ai__rng_below(r, 5);
    switch (kind) {
    case 0: return gosr_asprintf(k_lua_econ, goal, item, mult, item, mult, id,
                                 item, mult);
    case 1: return gosr_asprintf(k_lua_spawn, goal, every, every / 2, every,
                                 id, id);
    default: return gosr_asprintf(k_lua_note, goal, id, goal, id);
    }
}

static int gen_patch(const json_t *in, ai_rng *r, json_t **out)
{
    char goal[501], low[501], id[80], run[20];
    safe_goal(str_of(in, "goal"), goal, sizeof goal);
    lower(goal, low, sizeof low);
    int kind = (strstr(low, "price") || strstr(low, "cheap") ||
                strstr(low, "expensive") || strstr(low, "econom")) ? 0
             : (strstr(low, "spawn") || strstr(low, "enem")) ? 1 : 2;
    double mult = strstr(low, "expensive") || strstr(low, "raise") ? 1.1 : 0.9;
    const char *item = strstr(low, "pelt") ? "wolf-pelt"
                     : strstr(low, "herb") ? "healing-herb" : "iron-ore";
    snprintf(run, sizeof run, "%016llx", (unsigned long long)ai__rng_next(r));
    snprintf(id, sizeof id, "%.40s-patch-%.8s", str_of(in, "target_id"), run);
    char *lua = patch_lua(goal, id, item, mult, kind, r);
    const char *created = json_string_value(json_object_get(in, "created_at"));
    json_t *content = json_pack("{s:[s]}", "scripts", "patch.lua");
    if (kind == 0 && content)
        json_object_set_new(content, "economy_tuning",
                            json_pack("{s:{s:f}}", "multipliers", item, mult));
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s], s:s, s:{s:s, s:s, s:s, s:s},"
        " s:s, s:o}",
        "schema_version", "1.0.0", "id", id, "version", str_of(in, "version"),
        "kind", "patch", "name", "Ghost-tier patch", "description",
        goal[0] ? goal : "patch", "engine_compat", ">=0.1.0 <1.0.0",
        "capabilities", "world.read", "world.write", "entry", "patch.lua",
        "author", "type", "ai", "name", "gosr ghost tier", "model", "ghost-v1",
        "run_id", run, "created_at", created ? created : "2026-01-01T00:00:00Z",
        "content", content);
    *out = m && lua ? json_pack("{s:o, s:[{s:s, s:s}]}", "manifest", m, "files",
                                "path", "patch.lua", "text", lua)
                    : NULL;
    if (!*out)
        json_decref(m);
    gosr_free(lua);
    return *out ? GOSR_OK : GOSR_ENOMEM;
}

/* Compiles a Lua text chunk (no execution) to prove the script parses. */
static int lua_compiles(const char *text, gosr_error *err)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "lua state");
    int rc = luaL_loadbufferx(L, text, strlen(text), "=patch", "t");
    if (rc != LUA_OK)
        gosr_error_set(err, GOSR_EFORMAT, "semantic_lua_syntax", "%s",
                       lua_tostring(L, -1));
    lua_close(L);
    return rc == LUA_OK ? GOSR_OK : GOSR_EFORMAT;
}

static bool has_file(const json_t *files, const char *path)
{
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) if (!strcmp(str_of(f, "path"), path)) return true;
    return false;
}

int ai__patch_check(const json_t *out, gosr_error *err)
{
    const json_t *m = json_object_get(out, "manifest");
    const json_t *files = json_object_get(out, "files");
    const char *entry = json_string_value(json_object_get(m, "entry"));
    size_t i;
    json_t *e;
    if (entry && !has_file(files, entry))
        return gosr_error_set(err, GOSR_EFORMAT, "semantic_patch_entry",
                              "entry '%s' is not among the files", entry);
    json_array_foreach(json_object_get(json_object_get(m, "content"), "scripts"),
                       i, e)
    {
        if (!has_file(files, json_string_value(e)))
            return gosr_error_set(err, GOSR_EFORMAT, "semantic_patch_script",
                                  "script is not among the files");
    }
    json_array_foreach(files, i, e)
    {
        const char *p = str_of(e, "path");
        size_t n = strlen(p);
        if (n < 5 || strcmp(p + n - 4, ".lua") || p[0] == '/' || strstr(p, ".."))
            return gosr_error_set(err, GOSR_EFORMAT, "semantic_patch_path",
                                  "file path '%s' is not a safe .lua path", p);
        int rc = lua_compiles(str_of(e, "text"), err);
        if (rc)
            return rc;
    }
    return GOSR_OK;
}

/* ---- entry -------------------------------------------------------------- */

typedef int (*gen_fn)(const json_t *in, ai_rng *r, json_t **out);

int gosr_ai_ghost_generate(gosr_ai_cap cap, const json_t *input, uint64_t seed,
                           char **out, gosr_error *err)
{
    static const gen_fn gens[GOSR_AI_CAP_COUNT] = {
        gen_dialog, gen_quest, gen_map, gen_economy, gen_moderation, gen_patch};
    if ((unsigned)cap >= GOSR_AI_CAP_COUNT || !input)
        return gosr_error_set(err, GOSR_EINVAL, "bad_request", "capability");
    int rc = gosr_ai_schema_validate(gosr_ai_cap_input_schema(cap), input, err);
    if (rc)
        return rc;
    char *canon = json_dumps(input, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "input");
    ai_rng r;
    ai__rng_seed(&r, cap, seed, canon, strlen(canon));
    free(canon);
    json_t *o = NULL;
    if ((rc = gens[cap](input, &r, &o)))
        return gosr_error_set(err, rc, "ghost_failed", "generator failed");
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
    json_decref(o);
    *out = s ? gosr_strdup(s) : NULL;
    free(s);
    return *out ? GOSR_OK
                : gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "output");
}
