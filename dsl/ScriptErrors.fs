namespace Functional.FSharp

open System
open System.Diagnostics
open System.Text.Json

/// A declaration error as F# Interactive shows it: the library's message and the script line that caused it, without
/// a stack dump. Raised by the DSL only while `ScriptErrors.enabled` is set (dsl/Functional.fsx sets it); the original
/// exception — a `ShapeException`, an `ArgumentException`, a `ModelConfigException` — is the `InnerException`.
type ScriptError(inner: exn, location: string option) =
    inherit ArgumentException(ScriptError.Plain inner, inner)

    /// The message without .NET's " (Parameter 'x')" suffix: the library's messages already name the argument.
    static member Plain(e: exn) =
        match e with
        | :? ArgumentException as a when not (isNull a.ParamName) -> a.Message.Replace(sprintf " (Parameter '%s')" a.ParamName, "")
        | _ -> e.Message

    /// Where in the script the failing declaration is, e.g. `/work/model.fsx:line 12`.
    member _.Location = location

    /// No frames: the message and the script location say everything.
    override _.StackTrace = null

    override _.ToString() =
        match location with
        | Some at -> sprintf "Error: %s\n   at %s" (ScriptError.Plain inner) at
        | None -> sprintf "Error: %s" (ScriptError.Plain inner)

/// Readable errors for scripts (see `ScriptError`).
module ScriptErrors =
    /// When true, DSL functions turn declaration errors into `ScriptError`s. Compiled code keeps the library's own exceptions.
    let mutable enabled = false

    let private scriptFrame () =
        StackTrace(true).GetFrames()
        |> Array.tryFind (fun f ->
            match f.GetFileName() with
            | null -> false
            | file -> file.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase))
        |> Option.map (fun f -> sprintf "%s:line %d" (f.GetFileName()) (f.GetFileLineNumber()))

    /// A Keras option string the library rejected (`activation = "rleu"`, `padding = "smae"`, an initializer, loss or
    /// optimizer name, …). F# converts such strings in the script's own code, before any DSL function runs, so `guard`
    /// never sees these errors; the library passes them here instead (`OptionConversion.Report`), still at the script's
    /// line.
    let report (e: ArgumentException) : exn =
        if enabled then ScriptError(e, scriptFrame ()) :> exn else e :> exn

    /// Turns readable script errors on, for DSL declarations and for option strings (dsl/Functional.fsx calls this).
    let enable () =
        enabled <- true
        Functional.Shapes.OptionConversion.Report <- Func<ArgumentException, exn>(report)

    /// Runs a declaration; in scripts, a bad argument or shape becomes a `ScriptError` naming the script line.
    let guard (declare: unit -> 'a) : 'a =
        if not enabled then declare ()
        else
            try declare ()
            with
            | :? ScriptError -> reraise ()
            | :? ArgumentException | :? JsonException | :? NotSupportedException as e -> raise (ScriptError(e, scriptFrame ()))

/// Shapes with unknown dimensions from F#: `Shape.ofOptions [ None; None; Some 3 ]` is Keras's `(None, None, 3)`.
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Shape =
    /// A per-sample shape from known (`Some n`) and unknown (`None`) dimensions.
    let ofOptions (dims: int option list) : Functional.Shapes.Shape =
        Functional.Shapes.Shape(dims |> List.map Option.toNullable |> Array.ofList)

    /// The dimensions as options: `Some n` where known, `None` where unknown.
    let toOptions (shape: Functional.Shapes.Shape) : int option list = [ for d in shape -> Option.ofNullable d ]
