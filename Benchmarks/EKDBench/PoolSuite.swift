import EKDLayers
import EKDTensor
import Foundation

/// What the buffer pool buys: a small conv/BN/ReLU stack's training step with
/// the pool on and off, with the page faults each step takes.
enum PoolSuite {
  struct Result { var poolOn: Double, poolOff: Double, faultsOn: Double, faultsOff: Double }

  static var minorFaults: Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_minflt
  }

  static func run(threads: Int, batch: Int, repetitions: Int) -> Result {
    var rng = SeededRandom(seed: 3)
    var layers: [any Layer] = []
    for _ in 0..<3 {
      layers += [Conv2d(inputChannels: 64, outputChannels: 64, kernelSize: 3, padding: 1, bias: false, using: &rng), BatchNorm2d(64), ReLU()]
    }
    let net = Sequential(layers)
    let x = Tensor.randomNormal([batch, 64, 56, 56], using: &rng)
    let step = {
      let tape = Tape(mode: .training, threads: threads)
      let loss = net(tape.constant(x)).squared().mean()
      net.zeroGradients()
      tape.backward(from: loss)
    }
    let pool = BufferPool.shared
    let saved = pool.limitBytes
    func measure(limit: Int) -> (Double, Double) {
      pool.limitBytes = limit
      step()
      let f0 = minorFaults
      let t = Harness.median(warmup: 0, repetitions: repetitions) { step() }.median
      return (t, Double(minorFaults - f0) / Double(repetitions))
    }
    let (off, faultsOff) = measure(limit: 0)
    let (on, faultsOn) = measure(limit: saved)
    pool.limitBytes = saved
    return Result(poolOn: on, poolOff: off, faultsOn: faultsOn, faultsOff: faultsOff)
  }
}
