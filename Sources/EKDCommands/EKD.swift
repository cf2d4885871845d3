import ArgumentParser
import EKDDistributed
import Foundation

/// The `ekd` command line: one subcommand per job.
public struct EKD: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "ekd",
    abstract: "Train, evaluate and benchmark small 3D hand-pose networks with Explicit Knowledge Distillation.",
    version: "ekd 1.0; data-parallel over MPI: \(Distributed.isAvailable ? "built in" : "not built in (build with --traits MPI)")",
    subcommands: [
      TrainCommand.self, EvalCommand.self, PredictCommand.self, ExportCommand.self, AblationCommand.self, ReferenceCommand.self, SynthCommand.self, BoundsCommand.self, AnglesCommand.self,
      InfoCommand.self,
      DataCommand.self,
      CheckpointCommand.self,
    ]
  )
  public init() {}

  /// Runs the command line; a `CommandFailure` becomes one stderr line and exit code 2.
  /// Under `mpirun`, a rank that fails names itself and stops every rank (MPI_Abort),
  /// so no rank waits forever in a collective.
  public static func runMain(_ arguments: [String]? = nil) -> Never {
    do {
      var command = try parseAsRoot(arguments)
      if Distributed.launchedSize > 1 && !(command is TrainCommand || command is AblationCommand) {
        throw CommandFailure("only `train` and `ablation` run on several ranks; start the others without mpirun")
      }
      try command.run()
      Distributed.finish()
      Foundation.exit(0)
    } catch let failure as CommandFailure {
      fail(failure.description)
    } catch {
      // Help and version requests exit 0 as argument-parser prints them; a bad
      // option is bad input like any other: one `ekd:` line and exit code 2.
      guard exitCode(for: error) != .success else { exit(withError: error) }
      fail(message(for: error).trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }

  private static func fail(_ message: String) -> Never {
    if let world = try? Distributed.world(), world.size > 1 {
      FileHandle.standardError.write(Data("ekd: rank \(world.rank) of \(world.size): \(message)\n".utf8))
      world.abort(code: 2)
    }
    FileHandle.standardError.write(Data(("ekd: " + message + "\n").utf8))
    Foundation.exit(2)
  }
}
