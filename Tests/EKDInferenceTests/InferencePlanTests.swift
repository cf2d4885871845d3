import EKDInference
import EKDLayers
import EKDModels
import EKDTensor
import Testing
import _EKDTestSupport

@Suite struct InferencePlans {
  /// The plan (BN folded, ReLU fused, no tape) gives the tape's inference output to
  /// 1e-5 relative, at a batch other than the traced one, for every zoo student.
  @Test(arguments: [("tiny", 64), ("small", 64), ("squeezenet1_1", 96), ("squeezenet1_0", 96), ("resnet50", 64), ("ts500m", 64)])
  func planEqualsTheTapeForward(name: String, inputSize: Int) throws {
    let student = try studentWithMovedStatistics(name, inputSize: inputSize)
    let plan = try InferencePlan(student)
    var rng = SeededRandom(seed: 3)
    // 1 and 3 images on 2 threads share each op (1: bands of one image); 4 and 9 go whole
    // images per thread (9: unevenly).
    for n in [1, 3, 4, 9] {
      let x = Tensor.randomUniform([n, 3, inputSize, inputSize], in: -0.5...0.5, using: &rng)
      let want = student(Tape(mode: .inference, threads: 2).constant(x)).value
      let got = plan.run(x, threads: 2)
      #expect(got.shape == want.shape)
      let scale = want.scalars.map(abs).max()!
      let worst = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max()!
      #expect(worst <= 1e-5 * scale, "\(name), batch \(n): \(worst) of \(scale)")
    }
  }

  /// Conv–BN pairs are folded and every conv's ReLU is fused: no BN is left in the
  /// plain conv stacks, and the hourglass keeps only its pre-activation norms.
  @Test func batchNormIsFoldedAndReluFused() throws {
    func count(_ g: InferenceGraph) -> (bn: Int, relu: Int, conv: Int) {
      g.nodes.reduce(into: (0, 0, 0)) { c, n in
        switch n.op {
        case .batchNorm: c.0 += 1
        case .relu: c.1 += 1
        case .conv: c.2 += 1
        default: break
        }
      }
    }
    let tiny = count(try InferenceGraph.trace(try StudentZoo.make("tiny", inputSize: 64)))
    #expect(tiny.bn == 0 && tiny.relu == 0 && tiny.conv > 5)
    let hourglass = count(try InferenceGraph.trace(try StudentZoo.make("ts500m", inputSize: 64)))
    #expect(hourglass.bn > 0 && hourglass.conv > hourglass.bn)
    // Each fire module's two expand convs write their concat in place, and a profile says so.
    let squeeze = try InferencePlan(try StudentZoo.make("squeezenet1_0", inputSize: 96))
    #expect(squeeze.concatsWrittenInPlace == 8)
    let profile = squeeze.profile(Tensor(zeros: [2, 3, 96, 96]), threads: 2)
    #expect(profile.count == squeeze.graph.nodes.count && profile.allSatisfy { $0.seconds >= 0 })
    #expect(profile.filter { $0.kind == "concat (in place)" }.count == 8)
    #expect(profile.filter { $0.kind.hasPrefix("conv") && $0.kind.hasSuffix("→ concat") }.count == 16)
    // Each of ResNet-50's 16 bottlenecks ends in an add that its last conv does.
    let resnet = try InferencePlan(try StudentZoo.make("resnet50", inputSize: 64))
    #expect(resnet.addsFoldedIntoConvs == 16)
    // squeezenet1_1's shallow stem (DirectConv, on the vector paths) pools its own output;
    // the 7×7 stems of squeezenet1_0 and ResNet do not.
    let direct = ThinGEMM.best != .portable
    let squeeze11 = try InferencePlan(try StudentZoo.make("squeezenet1_1", inputSize: 96))
    #expect(squeeze11.poolsFusedIntoConvs == (direct ? 1 : 0))
    #expect(squeeze11.profile(Tensor(zeros: [1, 3, 96, 96]), threads: 2).filter { $0.kind.hasSuffix("(in its conv)") }.count == (direct ? 1 : 0))
    #expect(squeeze.poolsFusedIntoConvs == 0 && resnet.poolsFusedIntoConvs == 0)
  }
}
