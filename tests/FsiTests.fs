/// F# Interactive as a first-class front end: models print as their summary, tensors as shape and dtype, and a bad
/// declaration in a script prints its message and the script line instead of a stack dump.
module Functional.Tests.FsiTests

open System.Diagnostics
open System.IO
open Expecto
open Functional.Tests.ExampleScriptTests

/// Runs an interactive session fed from standard input (values are echoed, so printers show).
let private interactive (lines: string list) =
    let psi = ProcessStartInfo("dotnet", "fsi")
    psi.RedirectStandardInput <- true
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    psi.WorkingDirectory <- repoRoot ()
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    for l in lines do p.StandardInput.WriteLine l
    p.StandardInput.WriteLine "#quit;;"
    p.StandardInput.Close()
    if not (p.WaitForExit 300_000) then p.Kill true
    p.ExitCode, out.Result, err.Result

[<Tests>]
let tests =
    testSequenced <| testList "F# Interactive" [
        test "models print as their Keras summary; symbolic tensors and tensors as shape and dtype" {
            if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to run dotnet fsi"
            let _, out, err =
                interactive [ "#load \"dsl/Functional.fsx\";;"
                              "open Functional.FSharp;;"
                              "open type Functional.FSharp.Layers;;"
                              "let m = sequential { input 4; dense 3 };;"
                              "let x = Graph.input [ 8 ];;"
                              "let t = TorchSharp.torch.zeros(2L, 3L);;"
                              "let l = conv2d (8, 3, padding = \"same\");;"
                              "let built = Model.build m;;" ]
            Expect.stringContains out "val m: Functional.Models.Sequential =" (sprintf "the model is printed; stderr:\n%s" err)
            Expect.stringContains out "│ dense (Dense)                   │ (None, 3)              │            15 │" "as its summary"
            Expect.stringContains out "Total params: 15 (60.00 B)" "with the totals"
            Expect.stringContains out "<SymbolicTensor (None, 8) from InputLayer>" "a symbolic tensor"
            Expect.stringContains out "Tensor(shape=(2, 3), dtype=float32, device=cpu)" "a tensor, without its data"
            Expect.stringContains out "Conv2D(trainable=True, filters=8, kernel_size=(3, 3), strides=(1, 1), padding='same'" "a layer"
            Expect.stringContains out "Built model 'sequential' on cpu: 2 weights, 15 parameters" "a built model"
        }

        test "a declaration error in a script prints the message and the script line, not a stack dump" {
            if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to run dotnet fsi"
            let script = Path.Combine(repoRoot (), "tests", "scripts", "bad_model.fsx")
            let code, out, err = runFsi script
            Expect.notEqual code 0 "the script fails"
            Expect.stringContains err "Error: Conv2D 'conv2d' cannot take input shape (None, 4, 4, 1)" (sprintf "the message; stdout:\n%s" out)
            Expect.stringContains err "bad_model.fsx:line" "the script line"
            Expect.isFalse (err.Contains "   at Functional.") (sprintf "no library frames:\n%s" err)
            Expect.isFalse (err.Contains "MethodBaseInvoker") "no reflection frames"
        }

        test "a typo in a string option in a script prints the library's message and the script line, not a stack dump" {
            if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to run dotnet fsi"
            let script = Path.Combine(repoRoot (), "tests", "scripts", "bad_option.fsx")
            let code, out, err = runFsi script
            Expect.notEqual code 0 "the script fails"
            Expect.stringContains err "Error: Could not interpret activation function identifier: 'rleu'." (sprintf "the message; stdout:\n%s" out)
            Expect.stringContains err "bad_option.fsx:line 11" "the script line with the typo"
            Expect.isFalse (err.Contains "   at Functional.") (sprintf "no library frames:\n%s" err)
            Expect.isFalse (err.Contains "MethodBaseInvoker") "no reflection frames"
            Expect.isFalse (err.Contains "(Parameter '") "no .NET parameter suffix"
        }

        test "every kind of option string (padding, data format, initializer, regularizer, reduction, loss, metric) reports its message alone" {
            if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to run dotnet fsi"
            let _, out, err =
                interactive [ "#load \"dsl/Functional.fsx\";;"
                              "open Functional.FSharp;;"
                              "open type Functional.FSharp.Layers;;"
                              "let a = conv2d (8, 3, padding = \"smae\");;"
                              "let b = conv2d (8, 3, dataFormat = \"channels_middle\");;"
                              "let c = dense (4, kernelInitializer = \"glorot_unifrom\");;"
                              "let d = dense (4, kernelRegularizer = \"l3\");;"
                              "let e = Functional.Torch.Training.SparseCategoricalCrossentropy(reduction = \"summ\");;"
                              "let built = Model.build (sequential { input 4; dense 2 });;"
                              "let f = built.Compile(Functional.Torch.Training.Adam(), \"mse_typo\");;"
                              "let g = built.Compile(\"adam\", \"mse\", \"acuracy\");;" ]
            let all = out + err
            for message in [ "Error: Expected argument 'padding' to be one of 'valid', 'same' or 'causal'. Received: padding='smae'."
                             "Error: Expected argument 'data_format' to be 'channels_last' or 'channels_first'. Received: data_format='channels_middle'."
                             "Error: Could not interpret initializer identifier: 'glorot_unifrom'."
                             "Error: Could not interpret regularizer identifier: 'l3'."
                             "Error: Invalid value for argument 'reduction'."
                             "mse_typo"
                             "acuracy" ] do
                Expect.stringContains all message (sprintf "the message; session:\n%s" all)
            Expect.isFalse (all.Contains "   at Functional.") (sprintf "no library frames:\n%s" all)
            Expect.isFalse (all.Contains "System.ArgumentException") "no exception dump"
        }
    ]
