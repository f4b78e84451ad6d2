#if canImport(Glibc)
import Glibc
#endif

/// The part of Lua 5.1's C API scripting uses, loaded at run time from the system library
/// (`liblua5.1.so.0`, Debian's liblua5.1-0, the interpreter Redis embeds): Strata builds with
/// no Lua headers and starts without the library (scripting then says what to install). The
/// API macros (lua_pop, lua_newtable, lua_tostring, ...) are written out below.
typealias LuaState = OpaquePointer
typealias LuaCFunction = @convention(c) (LuaState?) -> Int32
typealias LuaHook = @convention(c) (LuaState?, UnsafeMutableRawPointer?) -> Void

struct LuaAPI {
    static let globalsIndex: Int32 = -10002
    static let registryIndex: Int32 = -10000
    static let tNil: Int32 = 0, tBoolean: Int32 = 1, tLightUserdata: Int32 = 2, tNumber: Int32 = 3, tString: Int32 = 4
    static let tTable: Int32 = 5, tFunction: Int32 = 6
    static let multret: Int32 = -1
    static let maskCall: Int32 = 1, maskRet: Int32 = 2, maskLine: Int32 = 4, maskCount: Int32 = 8
    static let gcStep: Int32 = 5, gcCount: Int32 = 3, gcCollect: Int32 = 2

    let newstate: @convention(c) () -> LuaState?
    let close: @convention(c) (LuaState?) -> Void
    let gettop: @convention(c) (LuaState?) -> Int32
    let settop: @convention(c) (LuaState?, Int32) -> Void
    let pushvalue: @convention(c) (LuaState?, Int32) -> Void
    let remove: @convention(c) (LuaState?, Int32) -> Void
    let insert: @convention(c) (LuaState?, Int32) -> Void
    let replace: @convention(c) (LuaState?, Int32) -> Void
    let checkstack: @convention(c) (LuaState?, Int32) -> Int32
    let type: @convention(c) (LuaState?, Int32) -> Int32
    let isnumber: @convention(c) (LuaState?, Int32) -> Int32
    let isstring: @convention(c) (LuaState?, Int32) -> Int32
    let tonumber: @convention(c) (LuaState?, Int32) -> Double
    let toboolean: @convention(c) (LuaState?, Int32) -> Int32
    let tolstring: @convention(c) (LuaState?, Int32, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>?
    let objlen: @convention(c) (LuaState?, Int32) -> Int
    let pushnil: @convention(c) (LuaState?) -> Void
    let pushnumber: @convention(c) (LuaState?, Double) -> Void
    let pushinteger: @convention(c) (LuaState?, Int) -> Void
    let pushlstring: @convention(c) (LuaState?, UnsafePointer<CChar>?, Int) -> Void
    let pushboolean: @convention(c) (LuaState?, Int32) -> Void
    let pushcclosure: @convention(c) (LuaState?, LuaCFunction?, Int32) -> Void
    let pushlightuserdata: @convention(c) (LuaState?, UnsafeMutableRawPointer?) -> Void
    let gettable: @convention(c) (LuaState?, Int32) -> Void
    let getfield: @convention(c) (LuaState?, Int32, UnsafePointer<CChar>?) -> Void
    let rawget: @convention(c) (LuaState?, Int32) -> Void
    let rawgeti: @convention(c) (LuaState?, Int32, Int32) -> Void
    let createtable: @convention(c) (LuaState?, Int32, Int32) -> Void
    let settable: @convention(c) (LuaState?, Int32) -> Void
    let setfield: @convention(c) (LuaState?, Int32, UnsafePointer<CChar>?) -> Void
    let rawset: @convention(c) (LuaState?, Int32) -> Void
    let rawseti: @convention(c) (LuaState?, Int32, Int32) -> Void
    let setmetatable: @convention(c) (LuaState?, Int32) -> Int32
    let next: @convention(c) (LuaState?, Int32) -> Int32
    let call: @convention(c) (LuaState?, Int32, Int32) -> Void
    let pcall: @convention(c) (LuaState?, Int32, Int32, Int32) -> Int32
    let error: @convention(c) (LuaState?) -> Int32
    let gc: @convention(c) (LuaState?, Int32, Int32) -> Int32
    let sethook: @convention(c) (LuaState?, LuaHook?, Int32, Int32) -> Int32
    let loadbuffer: @convention(c) (LuaState?, UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?) -> Int32
    let openBase: LuaCFunction, openTable: LuaCFunction, openString: LuaCFunction, openMath: LuaCFunction, openDebug: LuaCFunction

    /// Loads the library; nil (with the reason) when it is not installed.
    static func load() -> (LuaAPI?, String) {
        var handle: UnsafeMutableRawPointer?
        // STRATA_LUA_LIBRARY names the library to use instead (tests use it to run without one).
        var names = ["liblua5.1.so.0", "liblua5.1.so", "liblua.so.5.1"]
        if let custom = getenv("STRATA_LUA_LIBRARY") { names = [String(cString: custom)] }
        for name in names {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
        }
        guard let handle else {
            return (nil, "Lua 5.1 is not available (liblua5.1.so.0 not found: install the Debian package liblua5.1-0): scripting is disabled")
        }
        var missing = [String]()
        func f<T>(_ name: String, _: T.Type) -> T {
            guard let p = dlsym(handle, name) else { missing.append(name); return unsafeBitCast(dlsym(handle, "lua_gettop")!, to: T.self) }
            return unsafeBitCast(p, to: T.self)
        }
        let api = LuaAPI(
            newstate: f("luaL_newstate", (@convention(c) () -> LuaState?).self),
            close: f("lua_close", (@convention(c) (LuaState?) -> Void).self),
            gettop: f("lua_gettop", (@convention(c) (LuaState?) -> Int32).self),
            settop: f("lua_settop", (@convention(c) (LuaState?, Int32) -> Void).self),
            pushvalue: f("lua_pushvalue", (@convention(c) (LuaState?, Int32) -> Void).self),
            remove: f("lua_remove", (@convention(c) (LuaState?, Int32) -> Void).self),
            insert: f("lua_insert", (@convention(c) (LuaState?, Int32) -> Void).self),
            replace: f("lua_replace", (@convention(c) (LuaState?, Int32) -> Void).self),
            checkstack: f("lua_checkstack", (@convention(c) (LuaState?, Int32) -> Int32).self),
            type: f("lua_type", (@convention(c) (LuaState?, Int32) -> Int32).self),
            isnumber: f("lua_isnumber", (@convention(c) (LuaState?, Int32) -> Int32).self),
            isstring: f("lua_isstring", (@convention(c) (LuaState?, Int32) -> Int32).self),
            tonumber: f("lua_tonumber", (@convention(c) (LuaState?, Int32) -> Double).self),
            toboolean: f("lua_toboolean", (@convention(c) (LuaState?, Int32) -> Int32).self),
            tolstring: f("lua_tolstring", (@convention(c) (LuaState?, Int32, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>?).self),
            objlen: f("lua_objlen", (@convention(c) (LuaState?, Int32) -> Int).self),
            pushnil: f("lua_pushnil", (@convention(c) (LuaState?) -> Void).self),
            pushnumber: f("lua_pushnumber", (@convention(c) (LuaState?, Double) -> Void).self),
            pushinteger: f("lua_pushinteger", (@convention(c) (LuaState?, Int) -> Void).self),
            pushlstring: f("lua_pushlstring", (@convention(c) (LuaState?, UnsafePointer<CChar>?, Int) -> Void).self),
            pushboolean: f("lua_pushboolean", (@convention(c) (LuaState?, Int32) -> Void).self),
            pushcclosure: f("lua_pushcclosure", (@convention(c) (LuaState?, LuaCFunction?, Int32) -> Void).self),
            pushlightuserdata: f("lua_pushlightuserdata", (@convention(c) (LuaState?, UnsafeMutableRawPointer?) -> Void).self),
            gettable: f("lua_gettable", (@convention(c) (LuaState?, Int32) -> Void).self),
            getfield: f("lua_getfield", (@convention(c) (LuaState?, Int32, UnsafePointer<CChar>?) -> Void).self),
            rawget: f("lua_rawget", (@convention(c) (LuaState?, Int32) -> Void).self),
            rawgeti: f("lua_rawgeti", (@convention(c) (LuaState?, Int32, Int32) -> Void).self),
            createtable: f("lua_createtable", (@convention(c) (LuaState?, Int32, Int32) -> Void).self),
            settable: f("lua_settable", (@convention(c) (LuaState?, Int32) -> Void).self),
            setfield: f("lua_setfield", (@convention(c) (LuaState?, Int32, UnsafePointer<CChar>?) -> Void).self),
            rawset: f("lua_rawset", (@convention(c) (LuaState?, Int32) -> Void).self),
            rawseti: f("lua_rawseti", (@convention(c) (LuaState?, Int32, Int32) -> Void).self),
            setmetatable: f("lua_setmetatable", (@convention(c) (LuaState?, Int32) -> Int32).self),
            next: f("lua_next", (@convention(c) (LuaState?, Int32) -> Int32).self),
            call: f("lua_call", (@convention(c) (LuaState?, Int32, Int32) -> Void).self),
            pcall: f("lua_pcall", (@convention(c) (LuaState?, Int32, Int32, Int32) -> Int32).self),
            error: f("lua_error", (@convention(c) (LuaState?) -> Int32).self),
            gc: f("lua_gc", (@convention(c) (LuaState?, Int32, Int32) -> Int32).self),
            sethook: f("lua_sethook", (@convention(c) (LuaState?, LuaHook?, Int32, Int32) -> Int32).self),
            loadbuffer: f("luaL_loadbuffer", (@convention(c) (LuaState?, UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?) -> Int32).self),
            openBase: f("luaopen_base", LuaCFunction.self), openTable: f("luaopen_table", LuaCFunction.self),
            openString: f("luaopen_string", LuaCFunction.self), openMath: f("luaopen_math", LuaCFunction.self),
            openDebug: f("luaopen_debug", LuaCFunction.self))
        if !missing.isEmpty { return (nil, "liblua5.1 lacks \(missing.joined(separator: ", ")): scripting is disabled") }
        return (api, "Lua 5.1 loaded")
    }

    // The API macros.
    func pop(_ L: LuaState?, _ n: Int32) { settop(L, -n - 1) }
    func newtable(_ L: LuaState?) { createtable(L, 0, 0) }
    func pushfunction(_ L: LuaState?, _ f: LuaCFunction) { pushcclosure(L, f, 0) }
    func pushbytes(_ L: LuaState?, _ b: [UInt8]) { b.withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { pushlstring(L, $0.baseAddress, $0.count) } } }
    func pushstring(_ L: LuaState?, _ s: String) { pushbytes(L, Array(s.utf8)) }
    func isnil(_ L: LuaState?, _ i: Int32) -> Bool { type(L, i) == LuaAPI.tNil }
    func istable(_ L: LuaState?, _ i: Int32) -> Bool { type(L, i) == LuaAPI.tTable }
    func setglobal(_ L: LuaState?, _ name: String) { setfield(L, LuaAPI.globalsIndex, name) }
    func getglobal(_ L: LuaState?, _ name: String) { getfield(L, LuaAPI.globalsIndex, name) }
    /// The string (or number, converted in place as Lua does) at `i` as bytes.
    func bytes(_ L: LuaState?, _ i: Int32) -> [UInt8]? {
        var n = 0
        guard let p = tolstring(L, i, &n) else { return nil }
        return p.withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }
    func string(_ L: LuaState?, _ i: Int32) -> String? { bytes(L, i).map { String(decoding: $0, as: UTF8.self) } }
}
