/* luacalc: a plugin that links a library (Lua 5.4) through pkg-config.
 *
 * plugin.json next to this file says "pkg": ["lua5.4"]; hotbox runs
 * `pkg-config --cflags --libs lua5.4` on the host and puts the libraries
 * after the objects, so the linker keeps them (Debian links --as-needed).
 *
 *     hotbox call examples/lua/luacalc -- luacalc eval 'Z)l' '6*7'
 *     42
 */
#include <hotbox/plugin.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdint.h>

static lua_State *L;

static int luacalc_init(void)
{
    L = luaL_newstate();
    if (!L)
        return -1;
    luaL_openlibs(L);
    return 0;
}

static void luacalc_fini(void)
{
    if (L)
        lua_close(L);
    L = NULL;
}

/* Evaluates a Lua expression; its integer value, or -1 when it is not one. */
HB_EXPORT_FN int64_t eval(const char *expr)
{
    lua_settop(L, 0);
    lua_pushfstring(L, "return %s", expr);
    if (luaL_loadstring(L, lua_tostring(L, -1)) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
        return -1;
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    return ok ? (int64_t)v : -1;
}

/* Self-test: math.max comes from a library Lua links in itself. */
HB_EXPORT_FN int hb_test_lua_math(void)
{
    return eval("math.max(3, 9)") == 9 ? 0 : 1;
}

HB_PLUGIN("luacalc", 1, luacalc_init, luacalc_fini, 0, 0);
