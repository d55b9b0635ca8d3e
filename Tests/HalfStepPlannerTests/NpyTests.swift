import Foundation
import Testing
import HalfStepTestSupport
@testable import HalfStepPlanner

struct NpyTests {
    /// numpy 1.x/2.x's own bytes for `np.save(f, np.array([[1, 2], [3, 4]], dtype='<f4'))`.
    static let numpyFloat32: [UInt8] = {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
        header += String(repeating: " ", count: 128 - 10 - header.count - 1) + "\n"
        let values: [Float] = [1, 2, 3, 4]
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0] + Array(header.utf8)
            + values.flatMap { v in (0 ..< 4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
    }()

    func parse(_ bytes: [UInt8]) throws -> NpyArray { try NpyReader.parse(bytes: bytes, path: "a.npy") }

    func withHeader(_ dict: String, data: [UInt8] = [], version: UInt8 = 1) -> [UInt8] {
        let h = dict + "\n"
        let len = h.utf8.count
        let lengthBytes: [UInt8] = version == 1 ? [UInt8(len & 0xFF), UInt8(len >> 8)] : [UInt8(len & 0xFF), UInt8(len >> 8), 0, 0]
        return [0x93] + Array("NUMPY".utf8) + [version, 0] + lengthBytes + Array(h.utf8) + data
    }

    @Test("a header as numpy writes it reads back shape, dtype and values")
    func readsNumpyBytes() throws {
        let a = try parse(Self.numpyFloat32)
        #expect(a.shape == [2, 2] && a.dtype == .float32 && a.floats() == [1, 2, 3, 4])
    }

    @Test("every supported dtype round-trips through the writer and reader")
    func roundTrips() throws {
        let arrays = [
            NpyArray(float32: [1.5, -2, 3e-5], shape: [3]),
            NpyArray(float16: [1.5, -2, 0.25, 8], shape: [2, 2]),
            NpyArray(int64: [0, -7, 1 << 40], shape: [3]),
            NpyArray(int32: [5, -5], shape: [2, 1]),
            NpyArray(uint8: [0, 255, 9], shape: [3]),
        ]
        for a in arrays { #expect(try parse(NpyWriter.encode(a)) == a) }
        #expect(NpyWriter.encode(arrays[0]).count % 64 == 12)   // header padded so data starts at a multiple of 64
    }

    @Test("version 2.0 headers, reordered keys and extra spaces read")
    func flexibleHeaders() throws {
        let a = try parse(withHeader("{ 'shape' : (3,) , 'fortran_order':False,'descr':'<i4' }", data: [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0], version: 2))
        #expect(a.shape == [3] && a.integer(at: 2) == 3)
    }

    @Test("Fortran order, big-endian, objects and unknown dtypes are refused saying what was found")
    func refusedKinds() {
        expectError({ _ = try parse(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", data: [0, 0, 0, 0])) }, throws: { "\($0)".contains("Fortran order") })
        expectError({ _ = try parse(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0])) }, throws: { "\($0)".contains("'>f4'") })
        expectError({ _ = try parse(withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0, 0, 0, 0, 0])) }, throws: { "\($0)".contains("'|O'") })
        expectError({ _ = try parse(withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }")) }, throws: { "\($0)".contains("'<c8'") })
    }

    @Test("a pickle or any other file is refused as not .npy")
    func badMagic() {
        expectError({ _ = try parse([0x80, 0x04, 0x95] + [UInt8](repeating: 0, count: 20)) }, throws: { "\($0)".contains("not a NumPy .npy file") })
    }

    @Test("data shorter or longer than the shape needs is refused with both sizes")
    func sizeMismatch() {
        expectError({ _ = try parse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: [0, 0, 0, 0])) }, throws: { "\($0)".contains("needs 8 data bytes, the file has 4") })
        expectError({ _ = try parse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 8))) }, throws: { "\($0)".contains("the file has 8") })
    }

    @Test("a shape of 2^62 elements is refused without allocating")
    func hugeShape() {
        expectError({ _ = try parse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }")) }, throws: { "\($0)".contains("shape") })
        expectError({ _ = try parse(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }")) }, throws: { "\($0)".contains("dimension 0 is -1") })
    }

    @Test("malformed headers are refused with the position")
    func malformedHeaders() {
        for bad in ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "['descr']", "{'descr': <f4}", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", "{'fortran_order': False, 'shape': (1,)}"] {
            expectError({ _ = try parse(withHeader(bad, data: [0, 0, 0, 0])) }, throws: { "\($0)".contains("malformed header") })
        }
    }

    @Test("a file truncated at any byte is refused, never crashes")
    func truncation() {
        let bytes = Self.numpyFloat32
        for n in 0 ..< bytes.count {
            #expect(throws: NpyError.self, "length \(n)") { _ = try parse(Array(bytes[..<n])) }
        }
    }

    @Test("labels must be 1-D integers within the classes; inputs must be finite")
    func datasetChecks() throws {
        let x = NpyArray(float32: [0, 1, 2, 3, 4, 5], shape: [3, 2])
        let good = try Dataset.make(x, inputsPath: "x.npy", NpyArray(int64: [0, 2, 1], shape: [3]), labelsPath: "y.npy", expectedFeatures: 2, classes: 3)
        #expect(good.labels == [0, 2, 1] && good.inputs.count == 6)
        expectError({ _ = try Dataset.make(x, inputsPath: "x.npy", NpyArray(int64: [0, 3, 1], shape: [3]), labelsPath: "y.npy", expectedFeatures: 2, classes: 3) },
                    throws: { "\($0)" == "y.npy: the label at index 1 is 3, outside 0..<3" })
        expectError({ _ = try Dataset.make(x, inputsPath: "x.npy", NpyArray(float32: [0, 1, 1], shape: [3]), labelsPath: "y.npy", expectedFeatures: 2, classes: 3) },
                    throws: { "\($0)".contains("class indices must be") })
        expectError({ _ = try Dataset.make(x, inputsPath: "x.npy", NpyArray(int32: [0, 1], shape: [2]), labelsPath: "y.npy", expectedFeatures: 2, classes: 3) },
                    throws: { "\($0)".contains("3 samples but y.npy has 2") })
        expectError({ _ = try Dataset.make(x, inputsPath: "x.npy", NpyArray(uint8: [0, 1, 2], shape: [3]), labelsPath: "y.npy", expectedFeatures: 4, classes: 3) },
                    throws: { "\($0)".contains("2 features per sample, the model takes 4") })
        let nan = NpyArray(float32: [0, .nan, 2, 3, 4, 5], shape: [3, 2])
        expectError({ _ = try Dataset.make(nan, inputsPath: "x.npy", NpyArray(uint8: [0, 1, 2], shape: [3]), labelsPath: "y.npy", expectedFeatures: 2, classes: 3) },
                    throws: { "\($0)".contains("element 1 is nan") })
    }

    @Test("images [N, 8, 8] are flattened to 64 features")
    func flattening() throws {
        let x = NpyArray(float32: [Float](repeating: 0.5, count: 128), shape: [2, 8, 8])
        let d = try Dataset.make(x, inputsPath: "x", NpyArray(uint8: [1, 2], shape: [2]), labelsPath: "y", expectedFeatures: 64, classes: 10)
        #expect(d.features == 64 && d.count == 2)
    }
}
