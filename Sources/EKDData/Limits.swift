/// Every size limit the dataset code enforces, in one place.
///
/// Each value is what the real datasets need with room to spare, so a corrupt
/// or hostile file is refused with a `DatasetError` before it can exhaust
/// memory, time or the stack. Raise one here (and only here) for a bigger dataset.
public enum DatasetLimits {
  // MARK: Samples per dataset

  /// RHD images per split: it has 41,258 training and 2,728 evaluation images.
  public static let rhdSamples = 1 << 16
  /// STB frames per sequence: each of its 12 sequences has 1,500.
  public static let stbFramesPerSequence = 1 << 12
  /// FreiHAND entries per JSON list: 32,560 training poses, 3,960 evaluation.
  public static let freihandSamples = 1 << 16

  // MARK: Label values

  /// Largest |x|, |y|, |z| of a joint (mm): every dataset's hands are within 2 m of the camera.
  public static let jointMillimetres = 100_000.0
  /// Largest |u|, |v| of a joint (px): joints may fall outside the ≤ 640-pixel frames, but not by 150 widths; far below where Float pixel arithmetic and Int conversion break.
  public static let pixelCoordinate = 100_000.0

  // MARK: Pickle

  /// Pickle container nesting: RHD's is 2 (dict of per-sample dicts), plus 2 for a NumPy array's state; releasing a much deeper value would overflow the stack.
  public static let pickleNesting = 32
  /// Items in one pickle container: RHD's annotation dict has one per image, 41,258 at most.
  public static let pickleContainerItems = 1 << 17
  /// Bytes of a pickle dict key: keys are sample ids and field names such as "uv_vis"; long keys would only make hashing slow.
  public static let pickleKeyBytes = 256
  /// Bytes a pickle may decode into (8 per array value, plus byte strings it re-encodes): RHD's training labels need ~90 MB (41,258 × 261 values); a memo entry reused many times must not multiply into gigabytes.
  public static let pickleDecodedBytes = 512 << 20

  // MARK: MAT

  /// Bytes the compressed variables of one MAT file may inflate to: STB's handPara, 3 × 21 × 1,500 doubles, is 756 kB.
  public static let matInflatedBytes = 16 << 20
  /// Values in one MAT variable: STB's handPara has 94,500; this is 16 MiB of doubles.
  public static let matElements = 1 << 21
  /// Element nesting in a MAT file: a variable is a miMATRIX, at most wrapped once in miCOMPRESSED.
  public static let matNesting = 4
  /// Deflate's largest expansion (1032 : 1): a compressed element that declares more than its stream could hold is corrupt.
  public static let deflateRatio = 1032

  // MARK: Images

  /// Pixels of one decoded image: the largest dataset frames are 640 × 480 (STB, LM), 307,200 pixels.
  public static let imagePixels = 1 << 22
}
