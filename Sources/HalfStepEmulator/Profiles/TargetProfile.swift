import Foundation

/// A microcontroller part as HalfStep plans and validates for it: cores, clock, memories, FPU.
///
/// Profiles are JSON files (`Targets/profiles/*.json`, or any file a user passes by path); each
/// bundled one cites the datasheet its figures come from.
public struct TargetProfile: Sendable, Equatable {
    public enum Core: String, Sendable, CaseIterable {
        case cortexM0Plus = "cortex-m0plus"
        case cortexM4F = "cortex-m4f"
        case cortexM7 = "cortex-m7"
        case cortexM33 = "cortex-m33"
        case cortexM55 = "cortex-m55"
    }

    public enum FPU: String, Sendable, CaseIterable {
        /// No floating-point hardware: everything is software floating point.
        case none
        /// Single-precision arithmetic with fp16↔fp32 conversion instructions (VCVTB/VCVTT).
        case f32WithF16Conversion = "f32-f16-conversion"
        /// Half-precision arithmetic as well (Armv8.1-M MVE / FP16 extension).
        case f16Arithmetic = "f16-arithmetic"
    }

    /// A contiguous SRAM region.
    public struct Region: Sendable, Equatable {
        public var name: String
        public var bytes: Int
    }

    public var name: String
    public var description: String
    public var core: Core
    public var clockHz: Int
    public var sram: [Region]
    /// The region the arena lives in (one contiguous block).
    public var arenaRegion: String
    /// The region the stack lives in; nil or equal to `arenaRegion` means it shares the arena's.
    public var stackRegion: String?
    public var flashBytes: Int
    /// The training thread's stack, bytes.
    public var stackBytes: Int
    public var fpu: FPU
    /// Where the figures come from.
    public var source: String
    /// The file the profile was read from.
    public var path: String

    /// Total SRAM over all regions, bytes.
    public var totalSRAMBytes: Int { sram.reduce(0) { $0 + $1.bytes } }

    /// Bytes of the arena's region.
    public var arenaRegionBytes: Int { sram.first { $0.name == arenaRegion }?.bytes ?? 0 }

    /// True when the stack shares the arena's region.
    public var stackSharesArenaRegion: Bool { stackRegion == nil || stackRegion == arenaRegion }

    /// The SRAM left for the arena after the firmware's `reserved` bytes and, when it shares the
    /// region, the stack.
    public func sramBudget(reserving reserved: Int) -> Int {
        arenaRegionBytes - reserved - (stackSharesArenaRegion ? stackBytes : 0)
    }

    /// The flash left for the plan after the firmware's `reserved` bytes.
    public func flashBudget(reserving reserved: Int) -> Int { flashBytes - reserved }
}

extension TargetProfile {
    /// Parses profile JSON; `path` names the file in errors.
    public static func parse(_ data: Data, path: String) throws(ProfileError) -> TargetProfile {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .notJSON(path: path, detail: (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)")
        }
        guard let d = object as? [String: Any] else { throw .notJSON(path: path, detail: "the top level is not an object") }
        func string(_ key: String) throws(ProfileError) -> String {
            guard let v = d[key] else { throw .missingField(path: path, field: key) }
            guard let s = v as? String, !s.isEmpty else { throw .badField(path: path, field: key, expected: "a non-empty string", found: describe(v)) }
            return s
        }
        func positive(_ key: String, _ v: Any?) throws(ProfileError) -> Int {
            guard let v else { throw .missingField(path: path, field: key) }
            guard let n = v as? NSNumber, !isBoolean(v), n.doubleValue == n.doubleValue.rounded(),
                  n.doubleValue > 0, n.doubleValue < 1e15 else {
                throw .badField(path: path, field: key, expected: "a positive integer", found: describe(v))
            }
            return n.intValue
        }
        let name = try string("name")
        let coreName = try string("core")
        guard let core = Core(rawValue: coreName) else {
            throw .badField(path: path, field: "core", expected: "one of " + Core.allCases.map(\.rawValue).joined(separator: ", "), found: "\"\(coreName)\"")
        }
        let fpuName = try string("fpu")
        guard let fpu = FPU(rawValue: fpuName) else {
            throw .badField(path: path, field: "fpu", expected: "one of " + FPU.allCases.map(\.rawValue).joined(separator: ", "), found: "\"\(fpuName)\"")
        }
        guard let rawRegions = d["sram"] else { throw .missingField(path: path, field: "sram") }
        guard let list = rawRegions as? [Any], !list.isEmpty else {
            throw .badField(path: path, field: "sram", expected: "a non-empty array of {\"name\", \"bytes\"}", found: describe(rawRegions))
        }
        var regions: [Region] = []
        for (i, item) in list.enumerated() {
            guard let r = item as? [String: Any], let n = r["name"] as? String, !n.isEmpty else {
                throw .badField(path: path, field: "sram[\(i)]", expected: "an object with a \"name\" string and \"bytes\"", found: describe(item))
            }
            if regions.contains(where: { $0.name == n }) { throw .badField(path: path, field: "sram[\(i)].name", expected: "a name not used by another region", found: "\"\(n)\"") }
            regions.append(Region(name: n, bytes: try positive("sram[\(i)].bytes", r["bytes"])))
        }
        let arenaRegion = d["arena_region"] == nil ? regions.max { $0.bytes < $1.bytes }!.name : try string("arena_region")
        guard regions.contains(where: { $0.name == arenaRegion }) else {
            throw .badField(path: path, field: "arena_region", expected: "one of the sram region names (" + regions.map(\.name).joined(separator: ", ") + ")", found: "\"\(arenaRegion)\"")
        }
        var stackRegion: String? = nil
        if d["stack_region"] != nil {
            let s = try string("stack_region")
            guard regions.contains(where: { $0.name == s }) else {
                throw .badField(path: path, field: "stack_region", expected: "one of the sram region names (" + regions.map(\.name).joined(separator: ", ") + ")", found: "\"\(s)\"")
            }
            stackRegion = s
        }
        let profile = TargetProfile(
            name: name, description: (d["description"] as? String) ?? "", core: core,
            clockHz: try positive("clock_hz", d["clock_hz"]), sram: regions, arenaRegion: arenaRegion, stackRegion: stackRegion,
            flashBytes: try positive("flash_bytes", d["flash_bytes"]), stackBytes: try positive("stack_bytes", d["stack_bytes"]),
            fpu: fpu, source: try string("source"), path: path)
        if let stackRegion, let region = regions.first(where: { $0.name == stackRegion }), region.bytes < profile.stackBytes {
            throw .badField(path: path, field: "stack_bytes", expected: "at most the \(region.bytes) bytes of stack_region \(stackRegion)", found: "\(profile.stackBytes)")
        }
        return profile
    }

    /// Reads a profile file.
    public static func load(path: String) throws(ProfileError) -> TargetProfile {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        return try parse(data, path: path)
    }

    /// A bundled profile by name (`nrf52840`), or any profile file by path (`my-board.json`).
    public static func resolve(_ nameOrPath: String) throws(ProfileError) -> TargetProfile {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") { return try load(path: nameOrPath) }
        let file = bundledDirectory + "/" + nameOrPath.lowercased() + ".json"
        guard FileManager.default.fileExists(atPath: file) else {
            throw .unknownTarget(name: nameOrPath, available: (try? bundled().map(\.name)) ?? [])
        }
        return try load(path: file)
    }

    /// Every bundled profile, by name.
    public static func bundled() throws(ProfileError) -> [TargetProfile] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: bundledDirectory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        var out: [TargetProfile] = []
        for f in files { out.append(try load(path: bundledDirectory + "/" + f)) }
        return out
    }

    /// `Targets/profiles` of this checkout (or `$HALFSTEP_TARGETS`, or `./Targets/profiles`).
    public static var bundledDirectory: String {
        if let env = ProcessInfo.processInfo.environment["HALFSTEP_TARGETS"] { return env }
        let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Targets/profiles").path
        if FileManager.default.fileExists(atPath: fromSource) { return fromSource }
        return "Targets/profiles"
    }
}

private func describe(_ v: Any) -> String {
    if let s = v as? String { return "\"\(s)\"" }
    if let n = v as? NSNumber { return isBoolean(v) ? (n.boolValue ? "true" : "false") : "\(n)" }
    if v is [Any] { return "an array" }
    if v is [String: Any] { return "an object" }
    if v is NSNull { return "null" }
    return "\(v)"
}

/// JSON `true`/`false` arrive as NSNumber too; the Objective-C type code tells them apart.
private func isBoolean(_ v: Any) -> Bool {
    guard let n = v as? NSNumber else { return false }
    return String(cString: n.objCType) == "c" && (v is Bool)
}
