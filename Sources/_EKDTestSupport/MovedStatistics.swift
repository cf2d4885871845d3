import EKDLayers
import EKDModels
import EKDTensor

/// A zoo student whose batch norms hold statistics and affine parameters far from
/// (0, 1), so that folding them into convs (inference plans, ONNX export) changes
/// the numbers a lot if it is wrong, instead of hiding behind identity norms.
public func studentWithMovedStatistics(_ name: String, inputSize: Int) throws -> Student {
  let student = try StudentZoo.make(name, inputSize: inputSize, seed: 5)
  var rng = SeededRandom(seed: 9)
  let parameters = student.namedParameters
  let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.parameter) })
  for norm in parameters.compactMap({ $0.name.hasSuffix(".running_mean") ? String($0.name.dropLast(".running_mean".count)) : nil }) {
    for (suffix, low) in [("weight", 0.5), ("bias", -0.5), ("running_mean", -0.5), ("running_var", 0.5)] as [(String, Float)] {
      let p = byName[norm + "." + suffix]!
      for i in 0..<p.value.count { p.value[flat: i] = low + rng.nextUnitFloat() }
    }
  }
  return student
}
