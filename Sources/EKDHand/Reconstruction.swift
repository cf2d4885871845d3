import EKDTensor

/// Camera intrinsics of a crop: focal lengths, principal point, skew (pixels).
public struct Intrinsics<T: BinaryFloatingPoint>: Equatable {
  public var fx: T, fy: T, cx: T, cy: T, skew: T
  public init(fx: T, fy: T, cx: T, cy: T, skew: T = 0) {
    (self.fx, self.fy, self.cx, self.cy, self.skew) = (fx, fy, cx, cy, skew)
  }
  /// From a row-major 3×3 K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]].
  public init(matrix k: [T]) { self.init(fx: k[0], fy: k[4], cx: k[2], cy: k[5], skew: k[1]) }

  /// Pinhole projection: u = (fx·X + s·Y)/Z + cx, v = fy·Y/Z + cy.
  public func project(_ p: Vector3<T>) -> (u: T, v: T) { ((fx * p.x + skew * p.y) / p.z + cx, fy * p.y / p.z + cy) }
}

/// 3D from 2.5D (Iqbal et al. 2018; hand-model.md §7), given the root depth Z₀
/// and the scale s that the evaluation assumes known:
///   Z = Z₀ + s·z,  Y = (v − cy)·Z/fy,  X = (u − cx − skew·(v − cy)/fy)·Z/fx
public enum Reconstruction {
  /// (u, v) in crop pixels of each heatmap cell's centre, row-major, interleaved
  /// [h·w, 2]: the soft-argmax's grid (`Tape.decode25D`, and the exported ONNX decode).
  public static func pixelCentres(height h: Int, width w: Int, cropWidth: Int, cropHeight: Int) -> [Float] {
    let sx = Float(cropWidth) / Float(w), sy = Float(cropHeight) / Float(h)
    var grid = [Float](repeating: 0, count: h * w * 2)
    for y in 0..<h {
      for x in 0..<w {
        grid[2 * (y * w + x)] = (Float(x) + 0.5) * sx - 0.5
        grid[2 * (y * w + x) + 1] = (Float(y) + 0.5) * sy - 0.5
      }
    }
    return grid
  }

  public static func point<T>(u: T, v: T, z: T, intrinsics k: Intrinsics<T>, rootDepth: T, scale: T) -> Vector3<T> {
    let depth = rootDepth + scale * z
    let a = (u - k.cx - k.skew * (v - k.cy) / k.fy) / k.fx, b = (v - k.cy) / k.fy
    return Vector3(a * depth, b * depth, depth)
  }

  /// The root depth Z₀ from one known bone, in closed form (Iqbal et al. 2018, §3.3):
  /// with x̄ⱼ = K⁻¹(uⱼ, vⱼ, 1) the rays of the wrist (r) and the middle MCP (m), and
  /// Zₘ = Z₀ + L·zₘ (z is in units of s, and s *is* that bone, L mm long), the bone
  /// length ‖Zₘ·x̄ₘ − Z₀·x̄ᵣ‖ = L is a quadratic in Z₀:
  ///   ‖a‖²·Z₀² + 2(a·b)·Z₀ + ‖b‖² − L² = 0,  a = x̄ₘ − x̄ᵣ,  b = L·zₘ·x̄ₘ.
  /// z is taken relative to the wrist's (a prediction's z₀ need not be exactly 0).
  /// The larger root is the hand in front of the camera. Nil when the rays and the
  /// predicted depth admit no real solution (a degenerate or inconsistent prediction).
  public static func rootDepth<T>(uv: [(u: T, v: T)], z: [T], intrinsics k: Intrinsics<T>, boneLength: T) -> T? {
    func ray(_ j: Int) -> Vector3<T> {
      let b = (uv[j].v - k.cy) / k.fy
      return Vector3((uv[j].u - k.cx - k.skew * b) / k.fx, b, 1)
    }
    let (r, m) = (HandSkeleton.root, HandSkeleton.middleMCP)
    let a = ray(m) - ray(r), b = (boneLength * (z[m] - z[r])) * ray(m)
    let (qa, qb, qc) = (a.dot(a), a.dot(b), b.dot(b) - boneLength * boneLength)
    let discriminant = qb * qb - qa * qc
    guard qa > 0, discriminant >= 0 else { return nil }
    // The larger root, without cancellation when the two rays nearly coincide
    // (qa → 0): for qb > 0 it is qc / (−qb − √D), the same value in stable form.
    let sq = discriminant.squareRoot()
    let root = qb <= 0 ? (-qb + sq) / qa : qc / (-qb - sq)
    return root > 0 && root.isFinite ? root : nil
  }

  /// dL/d(u, v, z) for dL/d(X, Y, Z) = g.
  public static func pullback<T>(u: T, v: T, z: T, intrinsics k: Intrinsics<T>, rootDepth: T, scale: T, _ g: Vector3<T>) -> (T, T, T) {
    let depth = rootDepth + scale * z
    let a = (u - k.cx - k.skew * (v - k.cy) / k.fy) / k.fx, b = (v - k.cy) / k.fy
    let dDepth = g.z + g.x * a + g.y * b
    let du = g.x * depth / k.fx
    let dv = g.y * depth / k.fy - g.x * depth * k.skew / (k.fy * k.fx)
    return (du, dv, scale * dDepth)
  }
}

extension Tape {
  /// The 2.5D decode: per joint, p = softmax of its heatmap over all pixels,
  /// (u, v) = Σ p·(x, y) in crop pixels, z = Σ p·D (latent root-relative depth / s).
  ///
  /// heatmaps, depths: [B, J, h, w] at the head's resolution; the crop is
  /// cropWidth × cropHeight. Heatmap pixel centres map to crop pixel centres:
  /// x ↦ (x + ½)·W/w − ½, so a head at the crop's resolution is the identity.
  /// Returns [B, J, 3] = (u, v, z).
  public func decode25D(heatmaps: Variable, depths: Variable, cropWidth: Int, cropHeight: Int) -> Variable {
    let s = heatmaps.shape
    precondition(s.rank == 4 && depths.shape == s, "decode25D wants heatmaps and depths of one [B, J, h, w] shape, got \(s), \(depths.shape)")
    let (b, j, h, w) = (s[0], s[1], s[2], s[3])
    let grid = Reconstruction.pixelCentres(height: h, width: w, cropWidth: cropWidth, cropHeight: cropHeight)
    let p = softmax(heatmaps.reshaped([b * j, h * w]))
    let uv = matmul(p, constant(Tensor(shape: [h * w, 2], scalars: grid)))
    let z = (p * depths.reshaped([b * j, h * w])).sum(alongAxis: 1, keepingAxis: true)
    return concat([uv, z], axis: 1).reshaped([b, j, 3])
  }

  /// Camera-frame joints [B, J, 3] (mm) from decoded (u, v, z) [B, J, 3], with
  /// per-sample intrinsics [B, 3, 3], root depth Z₀ [B] (mm) and scale s [B] (mm).
  public func reconstruct(_ uvz: Variable, intrinsics: Tensor, rootDepth: Tensor, scale: Tensor) -> Variable {
    let s = uvz.shape
    precondition(s.rank == 3 && s[2] == 3, "reconstruct wants [B, J, 3], got \(s)")
    let (b, j) = (s[0], s[1])
    precondition(intrinsics.shape == [b, 3, 3] && rootDepth.shape == [b] && scale.shape == [b], "reconstruct: per-sample K [B,3,3], Z0 [B], s [B]")
    let x = uvz.value
    let ks = (0..<b).map { i in Intrinsics<Float>(matrix: Array(intrinsics.scalars[(9 * i)..<(9 * i + 9)])) }
    let z0 = rootDepth.scalars, sc = scale.scalars, px = x.scalars
    var out = [Float](repeating: 0, count: b * j * 3)
    for i in 0..<b {
      for k in 0..<j {
        let o = 3 * (i * j + k)
        let c = Reconstruction.point(u: px[o], v: px[o + 1], z: px[o + 2], intrinsics: ks[i], rootDepth: z0[i], scale: sc[i])
        (out[o], out[o + 1], out[o + 2]) = (c.x, c.y, c.z)
      }
    }
    return record(Tensor(shape: s, scalars: out), inputs: [uvz]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.scalars
      for i in 0..<b {
        for k in 0..<j {
          let o = 3 * (i * j + k)
          let (du, dv, dz) = Reconstruction.pullback(
            u: px[o], v: px[o + 1], z: px[o + 2], intrinsics: ks[i], rootDepth: z0[i], scale: sc[i], Vector3(g[o], g[o + 1], g[o + 2]))
          dx[o] += du
          dx[o + 1] += dv
          dx[o + 2] += dz
        }
      }
    }
  }

  /// The pose the teacher sees (hand-model.md §5): P = (C − C₀)/s per sample,
  /// C [B, J, 3], s [B] (the ground truth's wrist-to-middle-MCP length).
  public func rootRelative(_ c: Variable, scale: Tensor) -> Variable {
    let s = c.shape
    precondition(s.rank == 3 && s[2] == 3 && scale.shape == [s[0]], "rootRelative wants C [B, J, 3] and s [B]")
    let (b, j) = (s[0], s[1])
    let x = c.value.scalars, inv = scale.scalars.map { 1 / $0 }
    var out = [Float](repeating: 0, count: x.count)
    for i in 0..<b {
      for k in 0..<j {
        for a in 0..<3 { out[3 * (i * j + k) + a] = (x[3 * (i * j + k) + a] - x[3 * i * j + a]) * inv[i] }
      }
    }
    return record(Tensor(shape: s, scalars: out), inputs: [c]) { dy, d in
      guard let dx = d[0] else { return }
      let g = dy.scalars
      for i in 0..<b {
        for k in 0..<j {
          for a in 0..<3 {
            let v = g[3 * (i * j + k) + a] * inv[i]
            dx[3 * (i * j + k) + a] += v
            dx[3 * i * j + a] -= v
          }
        }
      }
    }
  }
}

extension HandSkeleton {
  /// s = ‖J9 − J0‖, wrist to middle MCP: the scale that normalises poses.
  public static func scale<T>(_ joints: [Vector3<T>]) -> T { (joints[middleMCP] - joints[root]).length }
}
