/// Sentence classification on a real corpus, Keras's text recipe end to end: the SpamAssassin public mails in
/// data/spam-assassin (subject + start of the body, 1,744 spam and 1,744 ham) go in as raw strings; a TextVectorization
/// adapted on the training 80 % turns them into token indices; Embedding(mask_zero=True) → Bidirectional(LSTM(32)) →
/// Dense(1, sigmoid) learns from variable-length batches (each padded to its own longest mail; the mask skips the
/// padding); held-out accuracy is measured on the raw held-out strings through an end-to-end model whose first layers
/// are the string Input and the same vectorizer. The exit code is non-zero when accuracy is not at least 0.90 and
/// 0.2 above the majority-class rate.
/// Usage: dotnet run --project examples/SpamLstm -c Release [-- --epochs N] [--data FILE]
module Functional.Examples.SpamLstm

open System
open System.IO
open Functional.Data
open Functional.Examples.SpamPipeline

let usage = "Usage: dotnet run --project examples/SpamLstm -c Release [-- --epochs N] [--data FILE]\n"

let rec private parse (argv: string list) (settings: Settings, data: string option) =
    match argv with
    | [] -> Ok(settings, data)
    | "--epochs" :: n :: rest ->
        match Int32.TryParse n with
        | true, e when e > 0 -> parse rest ({ settings with Epochs = e }, data)
        | _ -> Error(sprintf "--epochs takes a positive integer; received '%s'." n)
    | "--data" :: file :: rest -> parse rest (settings, Some file)
    | other :: _ -> Error(sprintf "unknown argument '%s'." other)

let private shorten (s: string) = if s.Length <= 90 then s else s.Substring(0, 87) + "..."

let train (settings: Settings) (file: string) =
    let mails = load file
    let trainSet, testSet = split 0.2 mails
    printfn "Data: %d mails from %s: %d to train on, %d held out" mails.Length file trainSet.Length testSet.Length
    let outcome = run settings trainSet testSet (printfn "%s")
    printf "%s" outcome.Summary
    printfn "Training: %d epochs in %.1fs" settings.Epochs outcome.TrainSeconds
    printfn "Held-out accuracy from raw strings: %.4f (majority-class rate %.4f) on %d mails" outcome.Accuracy outcome.MajorityRate testSet.Length
    printfn "Some held-out mails, raw text → P(spam):"
    for mail, p in outcome.Predictions |> Array.truncate 8 do
        printfn "  %.3f  %-4s  %s" p (if mail.Spam then "spam" else "ham") (shorten mail.Text)
    if outcome.Accuracy >= 0.90 && outcome.Accuracy >= outcome.MajorityRate + 0.2 then 0 else 1

[<EntryPoint>]
let main argv =
    if argv |> Array.exists (fun a -> a = "--help" || a = "-h") then
        printf "%s" usage
        0
    else
        match parse (List.ofArray argv) (defaults, None) with
        | Error message ->
            eprintfn "spam-lstm: %s Run with --help for the options." message
            2
        | Ok(settings, data) ->
            let file =
                match data with
                | Some f -> Ok f
                | None ->
                    try Ok(Path.Combine(DigitSet.FindRepositoryData "spam-assassin", "messages.tsv.gz"))
                    with :? DirectoryNotFoundException as e -> Error(e.Message + " Pass --data FILE.")
            match file with
            | Error message ->
                eprintfn "spam-lstm: %s" message
                2
            | Ok file when not (File.Exists file) ->
                eprintfn "spam-lstm: no such file '%s'." file
                2
            | Ok file -> train settings file
