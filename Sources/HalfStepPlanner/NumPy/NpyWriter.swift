import Foundation

/// Writes `.npy` files in format 1.0, as `numpy.save` does: header padded with spaces to a
/// multiple of 64 bytes and ended by a newline.
public enum NpyWriter {
    /// The file bytes for `array`.
    public static func encode(_ array: NpyArray) -> [UInt8] {
        let shape = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(array.dtype.rawValue)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        out += array.data
        return out
    }

    /// Writes `array` to `path`.
    public static func write(_ array: NpyArray, to path: String) throws(NpyError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(encode(array))) else {
            throw .unwritable(path: path)
        }
    }
}
